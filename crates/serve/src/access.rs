//! Who may ask, and the headers every answer carries.
//!
//! On a loopback address only this machine's users can connect, so no token
//! is needed; the `Host` header must then name a loopback host, which stops a
//! web page from reading the API through DNS rebinding. Bound anywhere else,
//! a random token is generated at start and every request must carry it:
//! `?token=` (EventSource cannot set headers), `Authorization: Bearer`, or
//! the `HttpOnly` cookie set when a page was opened with a valid `?token=`
//! (so the page's own scripts, styles and API calls need not repeat it),
//! named after the port because browsers share cookies across a host's
//! ports. Either way a request a browser marks `Sec-Fetch-Site: cross-site`
//! (another site's page making it) is refused, so no page elsewhere can make
//! the server run EXPLAINs or PromQL on its behalf.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fleetdeck_core::contract::{ErrorCode, UiError};

use crate::api::ApiError;
use crate::{Served, CSP};

/// Name of the cookie that carries the token after a page was opened with
/// `?token=`, followed by the port.
const TOKEN_COOKIE: &str = "fleetdeck_token_";

/// The token cookie's name for a server on `port`.
pub(crate) fn cookie_name(port: u16) -> String {
    format!("{TOKEN_COOKIE}{port}")
}

/// [`CSP`] on every answer, and the headers that keep the console out of
/// frames, stop MIME sniffing and keep the token out of `Referer`.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Token check off loopback; `Host` check on loopback (see the module docs).
pub(crate) async fn access(State(served): State<Arc<Served>>, request: Request, next: Next) -> Response {
    let refuse =
        |message: &str| ApiError(StatusCode::UNAUTHORIZED, UiError::new(ErrorCode::Refused, message)).into_response();
    if request.headers().get("sec-fetch-site").is_some_and(|v| v == "cross-site") {
        return ApiError(
            StatusCode::FORBIDDEN,
            UiError::new(ErrorCode::Refused, "requests from other sites are refused"),
        )
        .into_response();
    }
    let Some(token) = &served.token else {
        if !loopback_host(request.headers()) {
            return ApiError(
                StatusCode::FORBIDDEN,
                UiError::new(ErrorCode::Refused, "the Host header does not name this loopback server"),
            )
            .into_response();
        }
        return next.run(request).await;
    };
    let from_query =
        Query::<HashMap<String, String>>::try_from_uri(request.uri()).ok().and_then(|Query(q)| q.get("token").cloned());
    let presented = [from_query.clone(), bearer(request.headers()), cookie(request.headers(), &served.cookie_name)];
    if !presented.iter().flatten().any(|p| same_secret(p, token)) {
        return refuse("a token is required: open the URL fleetdeck serve printed (…/?token=…)");
    }
    let mut response = next.run(request).await;
    if from_query.is_some_and(|q| same_secret(&q, token)) {
        let cookie = format!("{}={token}; Path=/; HttpOnly; SameSite=Strict", served.cookie_name);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// Compares without returning early, so response time says nothing about how
/// much of a guess was right.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        // HTTP/1.0 without Host cannot come from a browser page.
        return true;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// 128 random bits, hex: from the thread's CSPRNG.
pub(crate) fn new_token() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::serve_on_loopback;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd") && !same_secret("ab", "abc") && !same_secret("", "abc"));
        assert_eq!(new_token().len(), 32, "128 bits in hex");
        assert_ne!(new_token(), new_token());
    }

    #[test]
    fn only_loopback_host_names_pass_the_rebinding_guard() {
        let host = |h: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::HOST, HeaderValue::from_str(h).unwrap());
            loopback_host(&m)
        };
        for ok in ["127.0.0.1:8686", "localhost:8686", "LOCALHOST", "[::1]:8686", "127.0.0.2"] {
            assert!(host(ok), "{ok} is loopback");
        }
        for bad in ["evil.example:8686", "evil.example", "10.0.0.1:8686", "[2001:db8::1]:8686"] {
            assert!(!host(bad), "{bad} could be a rebound name");
        }
    }

    #[tokio::test]
    async fn with_a_token_every_request_must_carry_it() {
        let ui = std::env::temp_dir().join(format!("fleetdeck-serve-ui-{}", std::process::id()));
        std::fs::create_dir_all(ui.join("assets")).unwrap();
        std::fs::write(ui.join("index.html"), "<!doctype html><title>t</title>").unwrap();
        std::fs::write(ui.join("assets/app.js"), "1").unwrap();
        let (addr, _watch) = serve_on_loopback(Some("s3cret".into()), Some(ui.clone())).await;
        let http = reqwest::Client::new();
        let status = |r: reqwest::Response| r.status();
        assert_eq!(
            status(http.get(format!("http://{addr}/api/fleet")).send().await.unwrap()),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(status(http.get(format!("http://{addr}/")).send().await.unwrap()), StatusCode::UNAUTHORIZED);
        assert_eq!(
            status(http.get(format!("http://{addr}/api/fleet?token=wrong")).send().await.unwrap()),
            StatusCode::UNAUTHORIZED
        );
        assert!(http.get(format!("http://{addr}/api/fleet?token=s3cret")).send().await.unwrap().status().is_success());
        assert!(http
            .get(format!("http://{addr}/api/fleet"))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap()
            .status()
            .is_success());

        let page = http.get(format!("http://{addr}/?token=s3cret")).send().await.unwrap();
        assert!(page.status().is_success());
        let csp = page.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        assert_eq!(csp, CSP, "HTML carries the CSP");
        let set_cookie = page.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
        assert!(
            set_cookie.starts_with(&format!("fleetdeck_token_{}=", addr.port())),
            "one cookie per port: {set_cookie}"
        );
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let asset =
            http.get(format!("http://{addr}/assets/app.js")).header(header::COOKIE, cookie).send().await.unwrap();
        assert!(asset.status().is_success(), "the page's assets load with the cookie the page got");
        std::fs::remove_dir_all(ui).unwrap();
    }
}
