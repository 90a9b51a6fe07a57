//! What the page needs to know before it can sign anyone in, written into `index.html` once
//! at start-up (no extra request, no secret: only public values go here).

use serde::Serialize;

pub struct WebConfig {
    pub sign_in: SignIn,
}

/// How the app signs people in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// `keel dev`: the built-in emulator's sign-in page and browser endpoints, under
    /// `frontend_api` (e.g. `/_clerk`).
    Emulator { frontend_api: String },
    /// Clerk's components, with this publishable key (`pk_…`, public by design).
    Clerk { publishable_key: String },
    /// `keel serve` without `CLERK_PUBLISHABLE_KEY`: the app says what to set.
    NotConfigured,
}

#[derive(Serialize)]
#[serde(tag = "auth", rename_all = "camelCase")]
enum PageConfig<'a> {
    Emulator {
        #[serde(rename = "frontendApi")]
        frontend_api: &'a str,
    },
    Clerk {
        #[serde(rename = "publishableKey")]
        publishable_key: &'a str,
    },
    None,
}

/// The placeholder `ui/index.html` carries, replaced by the configuration.
const PLACEHOLDER: &str = r#"<script id="keel-config" type="application/json">{}</script>"#;

pub(crate) fn render_index(html: &str, config: &WebConfig) -> Vec<u8> {
    let page = match &config.sign_in {
        SignIn::Emulator { frontend_api } => PageConfig::Emulator { frontend_api },
        SignIn::Clerk { publishable_key } => PageConfig::Clerk { publishable_key },
        SignIn::NotConfigured => PageConfig::None,
    };
    // `<` escaped so no value can close the script element.
    let json = serde_json::to_string(&page)
        .expect("config serializes")
        .replace('<', "\\u003c");
    html.replace(
        PLACEHOLDER,
        &format!(r#"<script id="keel-config" type="application/json">{json}</script>"#),
    )
    .into_bytes()
}
