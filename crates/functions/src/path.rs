/// The canonical form of a function path, as the official client computes it: a trailing `.js`
/// on the module is dropped and a path without `:` names the module's `default` export.
///
/// `"chats:listUserChats"` stays; `"dir/sub.js:fn"` → `"dir/sub:fn"`; `"mod"` → `"mod:default"`.
pub fn canonicalize_path(path: &str) -> String {
    let (module, function) = path.split_once(':').unwrap_or((path, "default"));
    let module = module.strip_suffix(".js").unwrap_or(module);
    format!("{module}:{function}")
}

#[cfg(test)]
mod tests {
    use super::canonicalize_path;

    #[test]
    fn paths_canonicalize_like_the_official_client() {
        assert_eq!(
            canonicalize_path("chats:listUserChats"),
            "chats:listUserChats"
        );
        assert_eq!(canonicalize_path("dir/sub:fn"), "dir/sub:fn");
        assert_eq!(canonicalize_path("mod"), "mod:default");
        assert_eq!(canonicalize_path("mod.js"), "mod:default");
        assert_eq!(canonicalize_path("dir/mod.js:run"), "dir/mod:run");
        assert_eq!(canonicalize_path("mod.json:x"), "mod.json:x");
    }
}
