//! Request bodies that create or change organizations and memberships, with
//! the checks Clerk applies to them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::EmulatorError;
use crate::ids::new_id;
use crate::organization::Organization;
use crate::user_input::{default_image_url, nullable};

/// Clerk's limit on organization names.
const MAX_NAME_CHARS: usize = 256;

/// Body of `POST /v1/organizations`. `created_by` names the user who becomes
/// its first admin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateOrganization {
    pub name: Option<String>,
    /// Derived from `name` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_allowed_memberships: Option<u64>,
}

/// Body of `PATCH /v1/organizations/{id}`. Metadata given here replaces the
/// stored object whole (`null` clears it), as Clerk's PATCH does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateOrganization {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Option<Map<String, Value>>>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Option<Map<String, Value>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_allowed_memberships: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_delete_enabled: Option<bool>,
}

/// Body of `POST /v1/organizations/{id}/memberships`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateMembership {
    pub user_id: Option<String>,
    /// `org:admin` or `org:member`.
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Map<String, Value>>,
}

/// Body of `PATCH /v1/organizations/{id}/memberships/{user_id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateMembership {
    pub role: Option<String>,
}

impl CreateOrganization {
    /// Validates the request against the existing organizations and builds
    /// the new one. `created_by` must already be known to exist.
    pub(crate) fn build(
        self,
        organizations: &[Organization],
        instance_id: &str,
        now: i64,
    ) -> Result<Organization, EmulatorError> {
        let name = check_name(self.name.as_deref())?;
        let slug = match self.slug {
            Some(slug) => {
                check_slug(organizations, "", &slug)?;
                slug
            }
            None => free_slug(organizations, &derive_slug(&name)),
        };
        let id = new_id("org");
        Ok(Organization {
            image_url: default_image_url(instance_id, &id),
            id,
            name,
            slug,
            created_by: self.created_by,
            public_metadata: self.public_metadata.unwrap_or_default(),
            private_metadata: self.private_metadata.unwrap_or_default(),
            max_allowed_memberships: self.max_allowed_memberships.unwrap_or(0),
            admin_delete_enabled: true,
            created_at: now,
            updated_at: now,
        })
    }
}

impl UpdateOrganization {
    pub(crate) fn apply(
        self,
        organization: &mut Organization,
        organizations: &[Organization],
        now: i64,
    ) -> Result<(), EmulatorError> {
        if let Some(name) = self.name {
            organization.name = check_name(Some(&name))?;
        }
        if let Some(slug) = self.slug {
            check_slug(organizations, &organization.id, &slug)?;
            organization.slug = slug;
        }
        if let Some(m) = self.public_metadata {
            organization.public_metadata = m.unwrap_or_default();
        }
        if let Some(m) = self.private_metadata {
            organization.private_metadata = m.unwrap_or_default();
        }
        if let Some(max) = self.max_allowed_memberships {
            organization.max_allowed_memberships = max;
        }
        if let Some(enabled) = self.admin_delete_enabled {
            organization.admin_delete_enabled = enabled;
        }
        organization.updated_at = now;
        Ok(())
    }
}

fn check_name(name: Option<&str>) -> Result<String, EmulatorError> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(EmulatorError::missing_param("name"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(EmulatorError::invalid_param(
            "name",
            format!("name must be at most {MAX_NAME_CHARS} characters."),
        ));
    }
    Ok(name.to_owned())
}

/// A given slug must be well-formed and not used by another organization.
fn check_slug(
    organizations: &[Organization],
    self_id: &str,
    slug: &str,
) -> Result<(), EmulatorError> {
    let well_formed = !slug.is_empty()
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !well_formed {
        return Err(EmulatorError::invalid_param(
            "slug",
            "slug can contain only lowercase alphanumeric characters and the dash \"-\".",
        ));
    }
    if organizations
        .iter()
        .any(|o| o.id != self_id && o.slug == slug)
    {
        return Err(EmulatorError::taken(
            "slug",
            "That slug is taken. Please try another.",
        ));
    }
    Ok(())
}

/// `Acme Corp!` → `acme-corp`: lower-case ASCII letters and digits, every
/// other run of characters one dash.
fn derive_slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "org".to_owned()
    } else {
        slug.to_owned()
    }
}

/// A derived slug never fails creation: a taken one gets `-2`, `-3` … (only
/// a slug the caller chose is refused as taken).
fn free_slug(organizations: &[Organization], base: &str) -> String {
    let taken = |slug: &str| organizations.iter().any(|o| o.slug == slug);
    if !taken(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|slug| !taken(slug))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_derived_from_names() {
        assert_eq!(derive_slug("Acme Corp"), "acme-corp");
        assert_eq!(derive_slug("  Ünïcode & Co. 2 "), "n-code-co-2");
        assert_eq!(derive_slug("!!!"), "org");
    }

    #[test]
    fn a_taken_derived_slug_gets_a_number() {
        let existing = CreateOrganization {
            name: Some("Acme".into()),
            ..Default::default()
        }
        .build(&[], "ins_x", 0)
        .unwrap();
        let mut orgs = vec![existing];
        assert_eq!(free_slug(&orgs, "acme"), "acme-2");
        orgs[0].slug = "acme-2".into();
        assert_eq!(free_slug(&orgs, "acme"), "acme");
    }

    #[test]
    fn given_slugs_are_checked() {
        assert!(check_slug(&[], "", "acme-2").is_ok());
        for bad in ["", "Acme", "acme corp", "acme_corp"] {
            let err = check_slug(&[], "", bad).unwrap_err();
            assert_eq!(err.as_clerk().unwrap().status.as_u16(), 422, "{bad}");
        }
    }
}
