//! `fleetdeck serve`: the console for browsers, read-only. It serves the same
//! web UI as the desktop (`ui/dist`) and the API that UI reads when it is not
//! inside Tauri:
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /api/fleet` | `FleetInfo`, always `read_only: true` |
//! | `GET /api/snapshots` | Server-Sent Events, event `snapshot`, one per refresh (the latest first) |
//! | `GET /api/range?query=&range=` | `RangeResult`: the last `range` seconds of PromQL `query` |
//! | `GET /api/explain?node=&query_id=` or `&sql=` | `PlanView`, never ANALYZE |
//!
//! Errors are `UiError` JSON with a fitting status. No route changes anything
//! and only GET is routed: there is no action endpoint to protect.
//!
//! One [`Engine`] refreshes the fleet for every client: each snapshot is
//! serialised once and fanned out through a broadcast channel, so a hundred
//! open browsers cost a hundred socket writes, not a hundred fleets of probes.
//!
//! Access: on a loopback address only this machine's users can connect, so no
//! token is needed; the `Host` header must then name a loopback host, which
//! stops a web page from reading the API through DNS rebinding. Bound
//! anywhere else, a random token is generated at start and every request must
//! carry it: `?token=` (EventSource cannot set headers), `Authorization:
//! Bearer`, or the `HttpOnly` cookie set when a page was opened with a valid
//! `?token=` (so the page's own scripts, styles and API calls need not repeat
//! it), named after the port because browsers share cookies across a host's
//! ports. Either way a request a browser marks `Sec-Fetch-Site: cross-site`
//! (another site's page making it) is refused, so no page elsewhere can make
//! the server run EXPLAINs or PromQL on its behalf.
//!
//! HTML and everything else carries the desktop's CSP, read from
//! `src-tauri/tauri.conf.json` at build time so the two cannot drift.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::Context;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use fleetdeck_core::contract::{ErrorCode, FleetInfo, PlanView, RangeResult, UiError};
use fleetdeck_core::fleet::Fleet;
use fleetdeck_core::on_demand;
use fleetdeck_core::probe::prometheus::PrometheusClient;
use fleetdeck_core::refresh::Engine;
use futures_util::stream::{self, Stream};
use tokio::sync::{broadcast, Semaphore};
use tower_http::services::ServeDir;

/// The default address: loopback, on a port no common service uses.
pub const DEFAULT_BIND: &str = "127.0.0.1:8686";

/// The desktop's Tauri configuration, for its CSP.
const TAURI_CONF: &str = include_str!("../../../src-tauri/tauri.conf.json");
/// Name of the cookie that carries the token after a page was opened with
/// `?token=`, followed by the port.
const TOKEN_COOKIE: &str = "fleetdeck_token_";
/// EXPLAINs run at once; more wait their turn, so a burst of clicks cannot
/// open a burst of connections to a node that is already struggling.
const EXPLAIN_SLOTS: usize = 4;

/// One serialised snapshot: its `seq` and its JSON.
type Published = (u64, Arc<str>);

/// What every request handler shares.
struct Served {
    fleet: Arc<Fleet>,
    info: FleetInfo,
    prometheus: Option<PrometheusClient>,
    published: broadcast::Sender<Published>,
    latest: RwLock<Option<Published>>,
    token: Option<String>,
    /// The token cookie's name on this port.
    cookie_name: String,
    explain_slots: Semaphore,
    csp: String,
    ui_dir: Option<PathBuf>,
}

impl Served {
    fn latest(&self) -> Option<Published> {
        self.latest.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Runs `fleetdeck serve` until Ctrl-C.
pub async fn run(fleet: Fleet, bind: SocketAddr, ui_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let ui_dir = match ui_dir {
        Some(dir) => {
            anyhow::ensure!(dir.join("index.html").is_file(), "--ui-dir {}: no index.html there", dir.display());
            Some(dir)
        }
        None => {
            let found = find_ui_dir();
            if found.is_none() {
                eprintln!("fleetdeck serve: no built UI found (ui/dist); the API works, pages say how to build it");
            }
            found
        }
    };
    let token = (!bind.ip().is_loopback()).then(new_token);
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("binding {bind}"))?;
    let local = listener.local_addr()?;
    let served = start(fleet, token.clone(), local.port(), ui_dir.clone())?;
    match &token {
        None => println!("fleetdeck serve: http://{local}/"),
        Some(t) if local.ip().is_unspecified() => {
            println!("fleetdeck serve: http://<this machine's address>:{}/?token={t}", local.port())
        }
        Some(t) => println!("fleetdeck serve: http://{local}/?token={t}"),
    }
    if let Some(dir) = &ui_dir {
        println!("fleetdeck serve: UI from {}", dir.display());
    }
    let app = router(served);
    tokio::select! {
        r = axum::serve(listener, app) => r.context("serving")?,
        // Open event streams never end by themselves, so do not wait for them.
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

/// Starts the one refresh loop and returns the state the handlers share.
fn start(fleet: Fleet, token: Option<String>, port: u16, ui_dir: Option<PathBuf>) -> anyhow::Result<Arc<Served>> {
    let (published, _) = broadcast::channel(16);
    let served = Arc::new(Served {
        info: FleetInfo::new(&fleet, false, true),
        prometheus: fleet.prometheus.clone().map(PrometheusClient::new),
        fleet: Arc::new(fleet.clone()),
        published,
        latest: RwLock::new(None),
        token,
        cookie_name: format!("{TOKEN_COOKIE}{port}"),
        explain_slots: Semaphore::new(EXPLAIN_SLOTS),
        csp: desktop_csp(TAURI_CONF)?,
        ui_dir,
    });
    tokio::spawn(refresh_loop(fleet, Arc::downgrade(&served)));
    Ok(served)
}

/// Refreshes every probe interval and publishes each snapshot, serialised
/// once; ends when the server state is gone.
async fn refresh_loop(fleet: Fleet, served: std::sync::Weak<Served>) {
    let mut ticker = tokio::time::interval(fleet.probe.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut engine = Engine::new(fleet);
    loop {
        ticker.tick().await;
        let snapshot = engine.refresh().await;
        let Some(served) = served.upgrade() else { return };
        let json: Arc<str> = match serde_json::to_string(&snapshot) {
            Ok(j) => j.into(),
            Err(e) => {
                eprintln!("fleetdeck serve: cannot serialise snapshot {}: {e}", snapshot.seq);
                continue;
            }
        };
        let published = (snapshot.seq, json);
        *served.latest.write().unwrap_or_else(PoisonError::into_inner) = Some(published.clone());
        // No subscriber is fine: nobody is watching right now.
        let _ = served.published.send(published);
    }
}

fn router(served: Arc<Served>) -> Router {
    let pages = match &served.ui_dir {
        Some(dir) => Router::new()
            .route("/", get(index))
            .fallback_service(ServeDir::new(dir).fallback(get(index).with_state(Arc::clone(&served))))
            .with_state(Arc::clone(&served)),
        None => Router::new().fallback(get(no_ui)),
    };
    Router::new()
        .route("/api/fleet", get(fleet_info))
        .route("/api/snapshots", get(snapshots))
        .route("/api/range", get(range))
        .route("/api/explain", get(explain))
        .route("/api/{*rest}", any(no_such_endpoint))
        .with_state(Arc::clone(&served))
        .merge(pages)
        .layer(middleware::from_fn_with_state(Arc::clone(&served), security_headers))
        .layer(middleware::from_fn_with_state(served, access))
}

/// A [`UiError`] as an HTTP answer.
struct ApiError(StatusCode, UiError);

impl From<UiError> for ApiError {
    fn from(e: UiError) -> Self {
        let status = match e.code {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Refused => StatusCode::FORBIDDEN,
            ErrorCode::Unreachable | ErrorCode::Server => StatusCode::BAD_GATEWAY,
            ErrorCode::NotConfigured => StatusCode::NOT_FOUND,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self(status, e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    UiError::new(ErrorCode::BadRequest, message).into()
}

async fn fleet_info(State(served): State<Arc<Served>>) -> Json<FleetInfo> {
    Json(served.info.clone())
}

async fn snapshots(State(served): State<Arc<Served>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribe before reading the latest, so that no snapshot falls between the two.
    let receiver = served.published.subscribe();
    let first = served.latest();
    let sent = first.as_ref().map(|(seq, _)| *seq);
    let events = stream::unfold((first, sent, receiver), |(first, sent, mut receiver)| async move {
        if let Some((seq, json)) = first {
            return Some((Ok(snapshot_event(seq, &json)), (None, Some(seq), receiver)));
        }
        loop {
            match receiver.recv().await {
                Ok((seq, _)) if sent.is_some_and(|s| seq <= s) => continue,
                Ok((seq, json)) => return Some((Ok(snapshot_event(seq, &json)), (None, Some(seq), receiver))),
                // A client too slow for the refresh rate skips to the newest snapshot.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

fn snapshot_event(seq: u64, json: &str) -> Event {
    Event::default().event("snapshot").id(seq.to_string()).data(json)
}

async fn range(
    State(served): State<Arc<Served>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<RangeResult>, ApiError> {
    let promql = params.get("query").ok_or_else(|| bad_request("query= is required"))?;
    let range_seconds: f64 = params
        .get("range")
        .ok_or_else(|| bad_request("range= (seconds) is required"))?
        .parse()
        .map_err(|_| bad_request("range= must be a number of seconds"))?;
    let prometheus = served.prometheus.as_ref().ok_or_else(|| {
        UiError::new(ErrorCode::NotConfigured, format!("the fleet {} has no [prometheus] section", served.info.name))
    })?;
    Ok(Json(on_demand::range(prometheus, promql, range_seconds, served.fleet.probe.interval).await?))
}

async fn explain(
    State(served): State<Arc<Served>>,
    Query(mut params): Query<HashMap<String, String>>,
) -> Result<Json<PlanView>, ApiError> {
    if params.get("analyze").is_some_and(|a| a != "false" && a != "0") {
        return Err(UiError::new(
            ErrorCode::Refused,
            "refused: fleetdeck serve is read-only and never runs EXPLAIN ANALYZE",
        )
        .into());
    }
    let node = params.remove("node").ok_or_else(|| bad_request("node= is required"))?;
    let target = (params.remove("query_id"), params.remove("sql"));
    let _slot = served.explain_slots.acquire().await.map_err(|_| UiError::new(ErrorCode::Internal, "shutting down"))?;
    Ok(Json(on_demand::explain(&served.fleet, &node, target, false, "fleetdeck-serve-explain").await?))
}

async fn no_such_endpoint(request: Request) -> ApiError {
    let e =
        UiError::new(ErrorCode::BadRequest, format!("no such endpoint: {} {}", request.method(), request.uri().path()));
    ApiError(StatusCode::NOT_FOUND, e)
}

/// `index.html`, read on every request so a rebuilt UI is picked up without a restart.
async fn index(State(served): State<Arc<Served>>) -> Response {
    let Some(dir) = &served.ui_dir else { return no_ui().await };
    match tokio::fs::read_to_string(dir.join("index.html")).await {
        Ok(html) => ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read {}/index.html: {e}", dir.display()))
            .into_response(),
    }
}

async fn no_ui() -> Response {
    let page = "<!doctype html><title>FleetDeck</title><p>The web UI is not built. Run <code>cd ui &amp;&amp; npm ci &amp;&amp; \
                npm run build</code>, or start <code>fleetdeck serve</code> with <code>--ui-dir DIR</code>. The API answers under \
                <code>/api/</code>.</p>";
    (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response()
}

/// The desktop's CSP on every answer, and the headers that keep the console
/// out of frames, stop MIME sniffing and keep the token out of `Referer`.
async fn security_headers(State(served): State<Arc<Served>>, request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&served.csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Token check off loopback; `Host` check on loopback (see the module docs).
async fn access(State(served): State<Arc<Served>>, request: Request, next: Next) -> Response {
    let refuse =
        |message: &str| ApiError(StatusCode::UNAUTHORIZED, UiError::new(ErrorCode::Refused, message)).into_response();
    if request.headers().get("sec-fetch-site").is_some_and(|v| v == "cross-site") {
        return ApiError(StatusCode::FORBIDDEN, UiError::new(ErrorCode::Refused, "requests from other sites are refused"))
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
fn new_token() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The CSP of `tauri.conf.json` (`app.security.csp`, directive → source list)
/// as one header value.
fn desktop_csp(tauri_conf: &str) -> anyhow::Result<String> {
    let conf: serde_json::Value = serde_json::from_str(tauri_conf).context("src-tauri/tauri.conf.json")?;
    let directives = conf
        .pointer("/app/security/csp")
        .and_then(|c| c.as_object())
        .context("tauri.conf.json has no app.security.csp object")?;
    let parts: Vec<String> = directives
        .iter()
        .map(|(name, sources)| {
            let sources = match sources {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => a.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
                _ => String::new(),
            };
            format!("{name} {sources}")
        })
        .collect();
    Ok(parts.join("; "))
}

/// `ui/dist` of the repository, looked for above the executable (a build
/// inside the clone) and above the current directory (a shared target dir).
fn find_ui_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf));
    let cwd = std::env::current_dir().ok();
    [exe, cwd]
        .into_iter()
        .flatten()
        .find_map(|start| start.ancestors().map(|d| d.join("ui/dist")).find(|d| d.join("index.html").is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fleet whose only node listens nowhere: refreshes finish (unreachable)
    /// without the lab, which is all the HTTP layer needs.
    fn offline_fleet() -> Fleet {
        let text = "name = \"offline\"\n[probe]\ntimeout_ms = 200\ninterval_ms = 200\n\
                    [[postgres]]\nname = \"pg0\"\nmonitor = \"host=127.0.0.1 port=9 dbname=x user=y sslmode=disable\"\n";
        Fleet::parse(Path::new("offline.toml"), text).expect("test fleet parses")
    }

    async fn serve_on_loopback(token: Option<String>, ui_dir: Option<PathBuf>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = start(offline_fleet(), token, addr.port(), ui_dir).unwrap();
        tokio::spawn(async move { axum::serve(listener, router(served)).await });
        addr
    }

    #[test]
    fn the_csp_is_the_desktops_and_allows_no_remote_origin() {
        let csp = desktop_csp(TAURI_CONF).unwrap();
        assert!(csp.contains("default-src 'self'"), "built from default-src 'self': {csp}");
        assert!(csp.contains("object-src 'none'"), "{csp}");
        for source in csp.split([';', ' ']).filter(|s| s.starts_with("http")) {
            assert_eq!(source, "http://ipc.localhost", "Tauri's IPC is the only origin named: {csp}");
        }
        assert!(!csp.contains("https:") && !csp.contains('*'), "no scheme or wildcard sources: {csp}");
    }

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
    async fn the_api_answers_read_only_and_streams_snapshots() {
        let addr = serve_on_loopback(None, None).await;
        let http = reqwest::Client::new();
        let info: FleetInfo = http.get(format!("http://{addr}/api/fleet")).send().await.unwrap().json().await.unwrap();
        assert!(info.read_only, "browsers never get actions");
        assert_eq!(info.name, "offline");

        let mut sse = http.get(format!("http://{addr}/api/snapshots")).send().await.unwrap();
        assert_eq!(sse.headers()[header::CONTENT_TYPE], "text/event-stream");
        let mut text = String::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while text.matches("event: snapshot").count() < 2 {
            let chunk =
                tokio::time::timeout_at(deadline, sse.chunk()).await.expect("two snapshots within 10 s").unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk.expect("stream open")));
        }
        assert!(text.contains("\"fleet\":\"offline\""), "each event's data is a Snapshot: {text}");

        let post = http.post(format!("http://{addr}/api/fleet")).send().await.unwrap();
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED, "nothing but GET is routed");
        let missing = http.get(format!("http://{addr}/api/switchover")).send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let e: UiError = missing.json().await.unwrap();
        assert_eq!(e.code, ErrorCode::BadRequest, "errors are UiError JSON");

        let e = http.get(format!("http://{addr}/api/range?query=up&range=60")).send().await.unwrap();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.json::<UiError>().await.unwrap().code, ErrorCode::NotConfigured, "this fleet has no Prometheus");

        let e =
            http.get(format!("http://{addr}/api/explain?node=pg0&sql=SELECT%201&analyze=true")).send().await.unwrap();
        assert_eq!(e.status(), StatusCode::FORBIDDEN, "never ANALYZE");
        let e = http
            .get(format!("http://{addr}/api/explain?node=pg0&sql=SELECT%201;DROP%20TABLE%20t"))
            .send()
            .await
            .unwrap();
        assert_eq!(e.json::<UiError>().await.unwrap().code, ErrorCode::Refused, "multi-statement SQL");

        let rebound =
            http.get(format!("http://{addr}/api/fleet")).header(header::HOST, "evil.example").send().await.unwrap();
        assert_eq!(rebound.status(), StatusCode::FORBIDDEN, "DNS rebinding guard");
        let cross = http.get(format!("http://{addr}/api/fleet")).header("sec-fetch-site", "cross-site").send().await;
        assert_eq!(cross.unwrap().status(), StatusCode::FORBIDDEN, "another site's page gets nothing");
        let same = http.get(format!("http://{addr}/api/fleet")).header("sec-fetch-site", "same-origin").send().await;
        assert!(same.unwrap().status().is_success(), "the page's own requests pass");
    }

    #[tokio::test]
    async fn with_a_token_every_request_must_carry_it() {
        let ui = std::env::temp_dir().join(format!("fleetdeck-serve-ui-{}", std::process::id()));
        std::fs::create_dir_all(ui.join("assets")).unwrap();
        std::fs::write(ui.join("index.html"), "<!doctype html><title>t</title>").unwrap();
        std::fs::write(ui.join("assets/app.js"), "1").unwrap();
        let addr = serve_on_loopback(Some("s3cret".into()), Some(ui.clone())).await;
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
        assert!(csp.contains("default-src 'self'"), "HTML carries the CSP: {csp}");
        let set_cookie = page.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
        assert!(set_cookie.starts_with(&format!("fleetdeck_token_{}=", addr.port())), "one cookie per port: {set_cookie}");
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let asset =
            http.get(format!("http://{addr}/assets/app.js")).header(header::COOKIE, cookie).send().await.unwrap();
        assert!(asset.status().is_success(), "the page's assets load with the cookie the page got");
        std::fs::remove_dir_all(ui).unwrap();
    }
}
