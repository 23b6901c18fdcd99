//! The UI's pages: everything that is not under `/api/`.
//!
//! By default the UI is the one built into the binary: `ui/dist` as it was
//! when this crate was compiled (`build.rs` refuses to compile without it),
//! embedded in debug builds too. So `fleetdeck serve` shows the UI from any
//! working directory and on any machine the binary is copied to, as the
//! desktop app does; it used to look for `ui/dist` above the executable and
//! the current directory, and answered "the web UI is not built" anywhere
//! else. Scripts and styles keep their content types (a module script served
//! as anything else is refused under `nosniff`); Vite names assets by their
//! content hash, so those may be cached for good, while `index.html` is
//! revalidated (an ETag) so a new binary's UI is picked up at once.
//!
//! `--ui-dir DIR` serves a directory instead, read on every request, for
//! working on the UI: rebuild it and reload the page, no restart.
//!
//! The UI is one page: a path it does not have gets `index.html`, except a
//! path that names a file (`/assets/gone.js`), which gets 404 rather than
//! HTML that would fail later as a script, and `/favicon.ico`, which browsers
//! ask for on their own: the UI has none, and the answer is 204.

use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::{EmbeddedFile, RustEmbed};
use tower_http::services::ServeDir;

use crate::Served;

/// `ui/dist`, compiled in.
#[derive(RustEmbed)]
#[folder = "../../ui/dist"]
struct Dist;

const INDEX: &str = "index.html";

/// The page routes: the built-in UI, or `--ui-dir`.
pub(crate) fn router(served: &Arc<Served>) -> Router {
    match &served.ui_dir {
        Some(dir) => Router::new()
            .route("/", get(index_from_dir))
            .fallback_service(ServeDir::new(dir).fallback(get(index_from_dir).with_state(Arc::clone(served))))
            .with_state(Arc::clone(served)),
        None => Router::new().fallback(get(built_in)),
    }
}

/// A file of the built-in UI.
async fn built_in(uri: Uri, headers: HeaderMap) -> Response {
    let path = match uri.path().trim_start_matches('/') {
        "" => INDEX,
        p => p,
    };
    match Dist::get(path) {
        Some(file) => answer(path, file, &headers),
        // Browsers ask for an icon the UI does not have and report a 404 as
        // a page error; nothing is an answer too.
        None if path == "favicon.ico" => {
            ([(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"))], StatusCode::NO_CONTENT)
                .into_response()
        }
        None if names_a_file(path) => (StatusCode::NOT_FOUND, "not found").into_response(),
        None => match Dist::get(INDEX) {
            Some(file) => answer(INDEX, file, &headers),
            None => (StatusCode::INTERNAL_SERVER_ERROR, "this build has no index.html").into_response(),
        },
    }
}

/// `file` with its content type and caching; 304 when the browser has it.
fn answer(path: &str, file: EmbeddedFile, request: &HeaderMap) -> Response {
    let hash = file.metadata.sha256_hash();
    let etag = format!("\"{}\"", hash[..16].iter().map(|b| format!("{b:02x}")).collect::<String>());
    // Vite puts every hashed asset under assets/; a new build is new names.
    let cache = if path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if request.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    if let Ok(v) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    (headers, file.data).into_response()
}

/// Whether the last segment of `path` has an extension (a file, not a view).
fn names_a_file(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|last| Path::new(last).extension().is_some())
}

/// `index.html` of `--ui-dir`, read on every request so a rebuilt UI is
/// picked up without a restart.
async fn index_from_dir(State(served): State<Arc<Served>>) -> Response {
    let Some(dir) = &served.ui_dir else { return (StatusCode::NOT_FOUND, "not found").into_response() };
    match tokio::fs::read_to_string(dir.join(INDEX)).await {
        Ok(html) => ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response(),
        Err(e) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read {}/{INDEX}: {e}", dir.display())).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::serve_on_loopback;
    use crate::CSP;

    /// The scripts `index.html` loads (`src="./assets/…js"`).
    fn scripts(html: &str) -> Vec<String> {
        html.split("src=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(|s| s.trim_start_matches("./").to_string())
            .collect()
    }

    #[test]
    fn the_built_in_ui_is_the_whole_of_ui_dist() {
        let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist");
        let index = Dist::get(INDEX).expect("index.html is compiled in");
        assert_eq!(
            index.data.as_ref(),
            std::fs::read(dist.join(INDEX)).expect("ui/dist is built").as_slice(),
            "the embedded index.html is ui/dist's (a stale embed would load assets that no longer exist)"
        );
        assert!(Dist::iter().any(|p| p.starts_with("assets/") && p.ends_with(".js")), "the scripts are compiled in");
    }

    #[test]
    fn views_fall_back_to_the_page_and_files_do_not() {
        assert!(names_a_file("assets/index-abc.js") && names_a_file("favicon.ico"));
        assert!(!names_a_file("topology") && !names_a_file("views/pools") && !names_a_file(""));
    }

    /// Regression: started outside the clone, serve answered every page with
    /// "the web UI is not built" (503). The UI is now compiled in, and no
    /// file system lookup is involved.
    #[tokio::test]
    async fn the_built_in_ui_is_served_with_its_content_types() {
        let (addr, _watch) = serve_on_loopback(None, None).await;
        let http = reqwest::Client::new();
        let page = http.get(format!("http://{addr}/")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "the page, wherever serve was started");
        assert!(page.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache", "a new binary's UI is picked up at once");
        assert_eq!(page.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        let etag = page.headers()[header::ETAG].clone();
        let html = page.text().await.unwrap();
        let again = http.get(format!("http://{addr}/")).header(header::IF_NONE_MATCH, etag).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "revalidation costs no body");

        let scripts = scripts(&html);
        assert!(!scripts.is_empty(), "index.html loads a script: {html}");
        for script in scripts {
            let js = http.get(format!("http://{addr}/{script}")).send().await.unwrap();
            assert_eq!(js.status(), StatusCode::OK, "{script}");
            let ct = js.headers()[header::CONTENT_TYPE].to_str().unwrap().to_string();
            assert!(
                ct.contains("javascript"),
                "a module script must be served as JavaScript under nosniff: {script}: {ct}"
            );
            assert!(js.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"), "hashed assets cache");
        }

        let view = http.get(format!("http://{addr}/topology")).send().await.unwrap();
        assert_eq!(view.status(), StatusCode::OK);
        assert_eq!(view.text().await.unwrap(), html, "a path the UI does not have gets the page");
        let gone = http.get(format!("http://{addr}/assets/gone-0000.js")).send().await.unwrap();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND, "a missing script is a 404, not HTML");
        let icon = http.get(format!("http://{addr}/favicon.ico")).send().await.unwrap();
        assert_eq!(icon.status(), StatusCode::NO_CONTENT, "no icon, and no 404 in the browser's console either");
        let post = http.post(format!("http://{addr}/")).send().await.unwrap();
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED, "pages are GET only");
    }
}
