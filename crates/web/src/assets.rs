//! The embedded files, as `build.rs` listed them.

pub(crate) struct Asset {
    pub path: &'static str,
    pub mime: &'static str,
    pub body: &'static [u8],
    pub gzip: Option<&'static [u8]>,
}

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

pub(crate) fn get(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The built `index.html` (the build always writes one, a placeholder at worst).
pub(crate) fn index_html() -> &'static str {
    get("/index.html")
        .and_then(|a| std::str::from_utf8(a.body).ok())
        .unwrap_or_default()
}
