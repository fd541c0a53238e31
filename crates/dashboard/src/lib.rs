//! The web dashboard's assets, embedded in the binary with `include_bytes!`:
//! plain ES modules and CSS from `web/`, no bundler, no framework, nothing
//! fetched at run time. The pages are ordinary clients of the public HTTP
//! API (`/api/v1`, `/oauth/token`, `/log`, SCRAPI): they hold no data and no
//! route of their own beyond these files.
//!
//! Deliberately absent: HTTP (the routes, headers and compression are
//! `http-api`'s `dashboard` module), any server-side rendering, any
//! authorization (every view's data comes from the API, which applies the
//! sharing policies).

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its name under `/ui/` (`app.js`); the page itself is `index.html`.
    pub name: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../web/", $name)),
        }
    };
}

/// Every file of the dashboard.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("views.js", "text/javascript; charset=utf-8"),
    asset!("rollout.js", "text/javascript; charset=utf-8"),
    asset!("cra.js", "text/javascript; charset=utf-8"),
    asset!("verify.js", "text/javascript; charset=utf-8"),
    asset!("verify-ui.js", "text/javascript; charset=utf-8"),
    asset!("cbor.js", "text/javascript; charset=utf-8"),
    asset!("sign.js", "text/javascript; charset=utf-8"),
    asset!("sign-ui.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The page every dashboard URL loads (views are hash routes: `/#/devices/x`).
pub fn index() -> &'static Asset {
    // ASSETS[0] is index.html (tested).
    &ASSETS[0]
}

/// The asset called `name`, if there is one.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// A short tag of the assets' contents (FNV-1a over every byte), for
/// `ETag`s: a new build with changed files gets a new tag.
pub fn version_tag() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for a in ASSETS {
        for b in a.name.bytes().chain(a.bytes.iter().copied()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_the_page_and_every_asset_is_found_by_name() {
        assert_eq!(index().name, "index.html");
        for a in ASSETS {
            assert_eq!(asset(a.name).map(|x| x.name), Some(a.name));
            assert!(!a.bytes.is_empty(), "{} is empty", a.name);
        }
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("").is_none());
    }

    #[test]
    fn the_page_loads_only_embedded_modules() {
        let page = std::str::from_utf8(index().bytes).unwrap_or_default();
        for src in page.split("src=\"").skip(1) {
            let src = src.split('"').next().unwrap_or_default();
            let name = src.strip_prefix("/ui/").unwrap_or(src);
            assert!(
                asset(name).is_some(),
                "index.html loads {src}, not embedded"
            );
        }
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(a.bytes).unwrap_or_default();
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let from = line.rsplit(['"', '\'']).nth(1).unwrap_or_default();
                let name = from.trim_start_matches("./");
                assert!(
                    asset(name).is_some(),
                    "{} imports {from}, not embedded",
                    a.name
                );
                assert!(
                    !from.contains("//"),
                    "{} imports from elsewhere: {from}",
                    a.name
                );
            }
        }
    }
}
