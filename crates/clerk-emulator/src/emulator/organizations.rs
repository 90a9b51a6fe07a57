//! Organization and membership operations (`/v1/organizations…`,
//! `/v1/organization_memberships`). Each change is announced like Clerk's
//! webhooks: `organization.*` and `organizationMembership.*`.

use serde_json::{Map, Value, json};

use super::{Emulator, event};
use crate::error::EmulatorError;
use crate::events::ChangeKind;
use crate::ids::{new_id, now_ms};
use crate::membership::Membership;
use crate::org_list::{ListMemberships, ListOrganizations, Order, window};
use crate::organization::Organization;
use crate::organization_input::{
    CreateMembership, CreateOrganization, UpdateMembership, UpdateOrganization,
};
use crate::roles;
use crate::session::Session;
use crate::store::State;

impl Emulator {
    /// `POST /v1/organizations`: returns the OrganizationJSON. A `created_by`
    /// user becomes its first admin (`organization.created`, then
    /// `organizationMembership.created`).
    pub async fn create_organization(
        &self,
        mut req: CreateOrganization,
    ) -> Result<Value, EmulatorError> {
        let instance_id = self.kid().to_owned();
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                req.created_by = req.created_by.filter(|id| !id.is_empty());
                let creator = match &req.created_by {
                    Some(id) => Some(state.user(id).cloned().map_err(|_| {
                        EmulatorError::invalid_param(
                            "created_by",
                            format!("No user was found with id {id}."),
                        )
                    })?),
                    None => None,
                };
                let organization = req.build(&state.organizations, &instance_id, now)?;
                let json = organization.to_json();
                events.push(event(ChangeKind::OrganizationCreated, json.clone(), now));
                if let Some(user) = creator {
                    let membership = new_membership(&organization.id, &user.id, "org:admin", now);
                    let data = membership.to_json(&organization, &user);
                    events.push(event(ChangeKind::OrganizationMembershipCreated, data, now));
                    state.memberships.push(membership);
                }
                state.organizations.push(organization);
                Ok(json)
            })
            .await
    }

    /// `GET /v1/organizations/{id_or_slug}`.
    pub async fn get_organization(
        &self,
        id_or_slug: &str,
        include_members_count: bool,
    ) -> Result<Value, EmulatorError> {
        self.store
            .read(|state| {
                let organization = state.organization(id_or_slug)?;
                Ok(render(state, organization, include_members_count))
            })
            .await
    }

    /// `GET /v1/organizations`: `{data:[OrganizationJSON…], total_count}`.
    pub async fn list_organizations(
        &self,
        query: &ListOrganizations,
    ) -> Result<Value, EmulatorError> {
        self.store
            .read(|state| {
                let fields = ["created_at", "name", "members_count"];
                let order = Order::parse(query.order_by.as_deref(), &fields, "organizations")?;
                let (offset, limit) = window(query.limit, query.offset)?;
                let orgs = &state.organizations;
                let sorted = order.sort(orgs.len(), |i, j| match order.field {
                    "name" => orgs[i].name.cmp(&orgs[j].name),
                    "members_count" => {
                        members_count(state, &orgs[i]).cmp(&members_count(state, &orgs[j]))
                    }
                    _ => orgs[i].created_at.cmp(&orgs[j].created_at),
                });
                let include = query.include_members_count.unwrap_or(false);
                let data: Vec<Value> = sorted
                    .into_iter()
                    .skip(offset)
                    .take(limit)
                    .map(|i| render(state, &orgs[i], include))
                    .collect();
                Ok(json!({ "data": data, "total_count": orgs.len() }))
            })
            .await
    }

    /// `PATCH /v1/organizations/{id}`: returns the updated OrganizationJSON.
    pub async fn update_organization(
        &self,
        organization_id: &str,
        req: UpdateOrganization,
    ) -> Result<Value, EmulatorError> {
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                let i = state.organization_index(organization_id)?;
                let mut organization = state.organizations[i].clone();
                req.apply(&mut organization, &state.organizations, now)?;
                let json = organization.to_json();
                state.organizations[i] = organization;
                events.push(event(ChangeKind::OrganizationUpdated, json.clone(), now));
                Ok(json)
            })
            .await
    }

    /// `DELETE /v1/organizations/{id}`: returns `{object:"organization", id,
    /// slug, deleted:true}`. Its memberships go first, each announced as
    /// `organizationMembership.deleted`, then `organization.deleted`.
    pub async fn delete_organization(&self, organization_id: &str) -> Result<Value, EmulatorError> {
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                let i = state.organization_index(organization_id)?;
                let organization = state.organizations.remove(i);
                for membership in
                    take_memberships(state, now, |m| m.organization_id == organization.id)
                {
                    let data = membership.to_json(&organization, state.user(&membership.user_id)?);
                    events.push(event(ChangeKind::OrganizationMembershipDeleted, data, now));
                }
                let json = organization.deleted_json();
                events.push(event(ChangeKind::OrganizationDeleted, json.clone(), now));
                Ok(json)
            })
            .await
    }

    /// `POST /v1/organizations/{id}/memberships`: returns the
    /// OrganizationMembershipJSON.
    pub async fn create_membership(
        &self,
        organization_id: &str,
        req: CreateMembership,
    ) -> Result<Value, EmulatorError> {
        let user_id = req
            .user_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| EmulatorError::missing_param("user_id"))?;
        let role = req
            .role
            .filter(|r| !r.is_empty())
            .ok_or_else(|| EmulatorError::missing_param("role"))?;
        let role = roles::by_key(&role)?.key;
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                let organization = state.organization(organization_id)?;
                let user = state.user(&user_id)?;
                if state.membership_index(&organization.id, &user_id).is_ok() {
                    return Err(EmulatorError::form(
                        "already_a_member_in_organization",
                        "already a member",
                        "user_id",
                        format!("User {user_id} is already a member of the organization."),
                    ));
                }
                let mut membership = new_membership(&organization.id, &user_id, role, now);
                membership.public_metadata = req.public_metadata.unwrap_or_default();
                membership.private_metadata = req.private_metadata.unwrap_or_default();
                let json = membership.to_json(organization, user);
                events.push(event(
                    ChangeKind::OrganizationMembershipCreated,
                    json.clone(),
                    now,
                ));
                state.memberships.push(membership);
                Ok(json)
            })
            .await
    }

    /// `GET /v1/organizations/{id}/memberships`: `{data, total_count}`.
    pub async fn list_memberships(
        &self,
        organization_id: &str,
        query: &ListMemberships,
    ) -> Result<Value, EmulatorError> {
        self.store
            .read(|state| {
                let id = &state.organization(organization_id)?.id;
                membership_page(state, query, |m| m.organization_id == *id)
            })
            .await
    }

    /// `GET /v1/organization_memberships`: every membership of the instance.
    pub async fn list_all_memberships(
        &self,
        query: &ListMemberships,
    ) -> Result<Value, EmulatorError> {
        self.store
            .read(|state| membership_page(state, query, |_| true))
            .await
    }

    /// `GET /v1/users/{id}/organization_memberships`: one user's memberships.
    pub async fn list_user_memberships(
        &self,
        user_id: &str,
        query: &ListMemberships,
    ) -> Result<Value, EmulatorError> {
        self.store
            .read(|state| {
                state.user(user_id)?;
                membership_page(state, query, |m| m.user_id == user_id)
            })
            .await
    }

    /// `PATCH /v1/organizations/{id}/memberships/{user_id}`: changes the role
    /// (and so the permissions); returns the OrganizationMembershipJSON.
    pub async fn update_membership(
        &self,
        organization_id: &str,
        user_id: &str,
        req: UpdateMembership,
    ) -> Result<Value, EmulatorError> {
        let role = req
            .role
            .filter(|r| !r.is_empty())
            .ok_or_else(|| EmulatorError::missing_param("role"))?;
        let role = roles::by_key(&role)?.key;
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                let org_id = state.organization(organization_id)?.id.clone();
                let i = state.membership_index(&org_id, user_id)?;
                let membership = &mut state.memberships[i];
                role.clone_into(&mut membership.role);
                membership.updated_at = now;
                let json = state.membership_json(&state.memberships[i])?;
                events.push(event(
                    ChangeKind::OrganizationMembershipUpdated,
                    json.clone(),
                    now,
                ));
                Ok(json)
            })
            .await
    }

    /// `DELETE /v1/organizations/{id}/memberships/{user_id}`: returns the
    /// removed OrganizationMembershipJSON, as Clerk does.
    pub async fn delete_membership(
        &self,
        organization_id: &str,
        user_id: &str,
    ) -> Result<Value, EmulatorError> {
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                let org_id = state.organization(organization_id)?.id.clone();
                let json = state.membership_json(
                    &state.memberships[state.membership_index(&org_id, user_id)?],
                )?;
                take_memberships(state, now, |m| {
                    m.organization_id == org_id && m.user_id == user_id
                });
                events.push(event(
                    ChangeKind::OrganizationMembershipDeleted,
                    json.clone(),
                    now,
                ));
                Ok(json)
            })
            .await
    }
}

fn new_membership(organization_id: &str, user_id: &str, role: &str, now: i64) -> Membership {
    Membership {
        id: new_id("orgmem"),
        organization_id: organization_id.to_owned(),
        user_id: user_id.to_owned(),
        role: role.to_owned(),
        public_metadata: Map::new(),
        private_metadata: Map::new(),
        created_at: now,
        updated_at: now,
    }
}

/// Removes the memberships `which` selects and clears the active
/// organization of their users' sessions, as Clerk clears it. Sessions have
/// no change event in Clerk, so nothing is announced for them.
pub(super) fn take_memberships(
    state: &mut State,
    now: i64,
    which: impl Fn(&Membership) -> bool,
) -> Vec<Membership> {
    let (taken, kept) = std::mem::take(&mut state.memberships)
        .into_iter()
        .partition::<Vec<_>, _>(|m| which(m));
    state.memberships = kept;
    for membership in &taken {
        for session in state.sessions.iter_mut().filter(|s| {
            s.user_id == membership.user_id
                && s.last_active_organization_id.as_deref() == Some(&membership.organization_id)
        }) {
            session.last_active_organization_id = None;
            session.updated_at = now;
        }
    }
    taken
}

/// The session's active organization and the membership behind it, if both
/// still exist.
pub(super) fn active<'a>(
    state: &'a State,
    session: &Session,
) -> Option<(&'a Organization, &'a Membership)> {
    let org_id = session.last_active_organization_id.as_deref()?;
    let organization = state.organizations.iter().find(|o| o.id == org_id)?;
    let membership = state
        .memberships
        .iter()
        .find(|m| m.organization_id == org_id && m.user_id == session.user_id)?;
    Some((organization, membership))
}

fn members_count(state: &State, organization: &Organization) -> usize {
    state
        .memberships
        .iter()
        .filter(|m| m.organization_id == organization.id)
        .count()
}

fn render(state: &State, organization: &Organization, include_members_count: bool) -> Value {
    let mut json = organization.to_json();
    if include_members_count {
        json["members_count"] = json!(members_count(state, organization));
    }
    json
}

/// One page of the memberships `keep` selects, newest first by default.
fn membership_page(
    state: &State,
    query: &ListMemberships,
    keep: impl Fn(&Membership) -> bool,
) -> Result<Value, EmulatorError> {
    let order = Order::parse(query.order_by.as_deref(), &["created_at"], "memberships")?;
    let (offset, limit) = window(query.limit, query.offset)?;
    let matching: Vec<&Membership> = state.memberships.iter().filter(|m| keep(m)).collect();
    let sorted = order.sort(matching.len(), |i, j| {
        matching[i].created_at.cmp(&matching[j].created_at)
    });
    let data = sorted
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|i| state.membership_json(matching[i]))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "data": data, "total_count": matching.len() }))
}
