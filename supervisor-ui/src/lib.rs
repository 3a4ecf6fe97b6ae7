//! The web application's static files, compiled into the binary so the orchestrator serves
//! them with no separate deployment. This crate knows nothing of the server; it only maps
//! paths to (content type, bytes).

struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "index.html",
        mime: "text/html; charset=utf-8",
        body: include_bytes!("../static/index.html"),
    },
    Asset {
        path: "app.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../static/app.js"),
    },
    Asset { path: "style.css", mime: "text/css; charset=utf-8", body: include_bytes!("../static/style.css") },
];

/// The content type and bytes of a static file, by path relative to the UI root.
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS.iter().find(|a| a.path == path).map(|a| (a.mime, a.body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn index_and_script_exist() {
        assert!(super::asset("index.html").unwrap().0.starts_with("text/html"));
        assert!(super::asset("app.js").is_some());
        assert!(super::asset("../Cargo.toml").is_none());
    }
}
