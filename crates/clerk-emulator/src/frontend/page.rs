//! The sign-in page: pick an existing user, or create one (optionally an admin, optionally in
//! an organization with a role), then land back in the app signed in. Plain HTML forms, no
//! script, so it works for any app and any test driver; the accessible names (Email, First
//! name, Last name, Admin, "Create and sign in", one "Sign in as …" button per user) are part
//! of its contract.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, json};

use super::cookie::{self, SameOrigin};
use crate::emulator::{ChoiceUser, Emulator, SignInChoices};
use crate::error::EmulatorError;
use crate::organization_input::{CreateMembership, CreateOrganization};
use crate::user_input::CreateUser;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Redirect {
    redirect_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SignInForm {
    user_id: String,
    email: String,
    first_name: String,
    last_name: String,
    admin: Option<String>,
    organization: String,
    org_role: String,
    redirect_url: Option<String>,
}

pub(crate) async fn show(
    State(emulator): State<Arc<Emulator>>,
    Query(redirect): Query<Redirect>,
) -> Response {
    let form = SignInForm {
        redirect_url: redirect.redirect_url,
        ..SignInForm::default()
    };
    render(&emulator, &form, None, StatusCode::OK).await
}

pub(crate) async fn submit(
    State(emulator): State<Arc<Emulator>>,
    _: SameOrigin,
    Form(form): Form<SignInForm>,
) -> Response {
    match sign_in(&emulator, &form).await {
        Ok(secret) => (
            StatusCode::SEE_OTHER,
            [
                (
                    LOCATION,
                    safe_redirect(form.redirect_url.as_deref()).to_owned(),
                ),
                (CACHE_CONTROL, "no-store".to_owned()),
            ],
            [(SET_COOKIE, cookie::set(&emulator, &secret))],
        )
            .into_response(),
        Err(EmulatorError::Clerk(error)) => {
            let status = error.status;
            render(&emulator, &form, Some(&error.long_message), status).await
        }
        Err(other) => other.into_response(),
    }
}

/// Signs in the chosen user, or creates the user (and the membership) first.
async fn sign_in(emulator: &Emulator, form: &SignInForm) -> Result<String, EmulatorError> {
    if !form.user_id.trim().is_empty() {
        return emulator.sign_in_browser(form.user_id.trim(), None).await;
    }
    let email = form.email.trim();
    if email.is_empty() {
        return Err(EmulatorError::missing_param("email_address"));
    }
    let public_metadata = form
        .admin
        .is_some()
        .then(|| Map::from_iter([("role".to_owned(), json!("admin"))]));
    let user = emulator
        .create_user(CreateUser {
            email_address: vec![email.to_owned()],
            first_name: non_empty(&form.first_name),
            last_name: non_empty(&form.last_name),
            public_metadata,
            ..CreateUser::default()
        })
        .await?;
    let user_id = user["id"].as_str().unwrap_or_default().to_owned();
    let organization = match non_empty(&form.organization) {
        Some(name) => Some(join_organization(emulator, &user_id, &name, &form.org_role).await?),
        None => None,
    };
    emulator.sign_in_browser(&user_id, organization).await
}

/// The organization named `name` (created when none has that name), with the user a member in
/// `role`. Returns its id.
async fn join_organization(
    emulator: &Emulator,
    user_id: &str,
    name: &str,
    role: &str,
) -> Result<String, EmulatorError> {
    let existing = emulator
        .sign_in_choices()
        .await
        .organizations
        .into_iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name));
    let org_id = match existing {
        Some((id, _)) => id,
        None => {
            let org = emulator
                .create_organization(CreateOrganization {
                    name: Some(name.to_owned()),
                    ..CreateOrganization::default()
                })
                .await?;
            org["id"].as_str().unwrap_or_default().to_owned()
        }
    };
    let role = if role == "org:admin" {
        "org:admin"
    } else {
        "org:member"
    };
    emulator
        .create_membership(
            &org_id,
            CreateMembership {
                user_id: Some(user_id.to_owned()),
                role: Some(role.to_owned()),
                ..CreateMembership::default()
            },
        )
        .await?;
    Ok(org_id)
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Only a path on this origin: anything else (`//evil.example`, `https://…`) goes to `/`.
fn safe_redirect(url: Option<&str>) -> &str {
    match url {
        Some(u) if u.starts_with('/') && !u.starts_with("//") && !u.contains('\\') => u,
        _ => "/",
    }
}

async fn render(
    emulator: &Emulator,
    form: &SignInForm,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let choices = emulator.sign_in_choices().await;
    let html = page_html(&choices, form, error);
    (status, [(CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn page_html(choices: &SignInChoices, form: &SignInForm, error: Option<&str>) -> String {
    let redirect = escape(safe_redirect(form.redirect_url.as_deref()));
    let mut users = String::new();
    for user in &choices.users {
        users.push_str(&user_button(user, &redirect));
    }
    if users.is_empty() {
        users.push_str("<li class=\"empty\">No users yet: create the first one.</li>");
    }
    let mut organizations = String::new();
    for (_, name) in &choices.organizations {
        let _ = write!(
            organizations,
            "<option value=\"{}\"></option>",
            escape(name)
        );
    }
    let error = error.map_or_else(String::new, |e| {
        format!("<p role=\"alert\" class=\"error\">{}</p>", escape(e))
    });
    let checked = if form.admin.is_some() { " checked" } else { "" };
    let org_admin = if form.org_role == "org:admin" {
        " selected"
    } else {
        ""
    };
    format!(
        include_str!("page.html"),
        error = error,
        users = users,
        redirect = redirect,
        email = escape(&form.email),
        first_name = escape(&form.first_name),
        last_name = escape(&form.last_name),
        checked = checked,
        organization = escape(&form.organization),
        organizations = organizations,
        org_admin = org_admin,
    )
}

fn user_button(user: &ChoiceUser, redirect: &str) -> String {
    let label = match (&user.email, user.name.is_empty()) {
        (Some(email), false) => format!("{} ({email})", user.name),
        (Some(email), true) => email.clone(),
        (None, false) => user.name.clone(),
        (None, true) => user.id.clone(),
    };
    let admin = if user.admin {
        " <span class=\"badge\">admin</span>"
    } else {
        ""
    };
    format!(
        "<li><form method=\"post\"><input type=\"hidden\" name=\"user_id\" value=\"{id}\">\
         <input type=\"hidden\" name=\"redirect_url\" value=\"{redirect}\">\
         <button type=\"submit\">Sign in as {label}{admin}</button></form></li>",
        id = escape(&user.id),
        label = escape(&label),
    )
}

/// Text for HTML content and double-quoted attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_this_origin() {
        assert_eq!(safe_redirect(Some("/chats/1?x=2")), "/chats/1?x=2");
        assert_eq!(safe_redirect(Some("//evil.example/")), "/");
        assert_eq!(safe_redirect(Some("https://evil.example/")), "/");
        assert_eq!(safe_redirect(Some("/\\evil.example")), "/");
        assert_eq!(safe_redirect(None), "/");
    }

    #[test]
    fn user_text_is_escaped() {
        let choices = SignInChoices {
            users: vec![ChoiceUser {
                id: "user_1".into(),
                name: "<script>x</script>".into(),
                email: Some("a\"@example.com".into()),
                admin: false,
            }],
            organizations: vec![],
        };
        let html = page_html(&choices, &SignInForm::default(), Some("<b>"));
        assert!(!html.contains("<script>x"));
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt; (a&quot;@example.com)"));
        assert!(html.contains("&lt;b&gt;"));
    }
}
