//! The web application's static files, compiled into the binary so the orchestrator serves
//! them with no separate deployment. This crate knows nothing of the server; it only maps
//! paths to (content type, bytes).

struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    Asset {
        path: "index.html",
        mime: "text/html; charset=utf-8",
        body: include_bytes!("../static/index.html"),
    },
    Asset { path: "lib.js", mime: JS, body: include_bytes!("../static/lib.js") },
    Asset { path: "main.js", mime: JS, body: include_bytes!("../static/main.js") },
    Asset { path: "phone.js", mime: JS, body: include_bytes!("../static/phone.js") },
    Asset { path: "grid.js", mime: JS, body: include_bytes!("../static/grid.js") },
    Asset { path: "workspace.js", mime: JS, body: include_bytes!("../static/workspace.js") },
    Asset { path: "wrapup.js", mime: JS, body: include_bytes!("../static/wrapup.js") },
    Asset { path: "recording.js", mime: JS, body: include_bytes!("../static/recording.js") },
    Asset { path: "payment.js", mime: JS, body: include_bytes!("../static/payment.js") },
    Asset { path: "coach.js", mime: JS, body: include_bytes!("../static/coach.js") },
    Asset { path: "admin.js", mime: JS, body: include_bytes!("../static/admin.js") },
    Asset { path: "admin_ivr.js", mime: JS, body: include_bytes!("../static/admin_ivr.js") },
    Asset { path: "admin_schedule.js", mime: JS, body: include_bytes!("../static/admin_schedule.js") },
    Asset { path: "admin_side.js", mime: JS, body: include_bytes!("../static/admin_side.js") },
    Asset { path: "admin_tokens.js", mime: JS, body: include_bytes!("../static/admin_tokens.js") },
    Asset { path: "form.js", mime: JS, body: include_bytes!("../static/form.js") },
    Asset { path: "override.js", mime: JS, body: include_bytes!("../static/override.js") },
    Asset { path: "dashboard.js", mime: JS, body: include_bytes!("../static/dashboard.js") },
    Asset { path: "consult.js", mime: JS, body: include_bytes!("../static/consult.js") },
    Asset { path: "transfer.js", mime: JS, body: include_bytes!("../static/transfer.js") },
    Asset { path: "supervise.js", mime: JS, body: include_bytes!("../static/supervise.js") },
    Asset { path: "history.js", mime: JS, body: include_bytes!("../static/history.js") },
    Asset { path: "voicemail.js", mime: JS, body: include_bytes!("../static/voicemail.js") },
    Asset { path: "customer.js", mime: JS, body: include_bytes!("../static/customer.js") },
    Asset {
        path: "vendor/jssip-3.13.6.min.js",
        mime: JS,
        body: include_bytes!("../static/vendor/jssip-3.13.6.min.js"),
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
        for page in ["main.js", "lib.js", "phone.js", "grid.js", "workspace.js", "vendor/jssip-3.13.6.min.js"]
        {
            assert!(super::asset(page).is_some(), "{page}");
        }
        assert!(super::asset("../Cargo.toml").is_none());
    }

    /// A page's module that is not served breaks the whole app (its imports fail).
    #[test]
    fn every_script_and_style_in_static_is_served() {
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else if path.extension().is_some_and(|e| e == "js" || e == "css" || e == "html") {
                    out.push(path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        let mut files = Vec::new();
        walk(&base, &base, &mut files);
        assert!(files.len() >= 7, "{files:?}");
        for f in files {
            assert!(super::asset(&f).is_some(), "static/{f} is not served: add it to ASSETS");
        }
    }
}
