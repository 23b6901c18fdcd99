//! `fleetdeck serve`: the console for browsers (war-room TVs, teammates),
//! read-only. It serves the desktop's web UI, built into the binary (module
//! `pages`), and the API that UI reads when it is not inside Tauri (module
//! `api`):
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
//! The fleet is refreshed by the core's one watch stream
//! ([`fleetdeck_core::watch`]), the same one the CLI's `watch` and the desktop
//! consume, so serve records incident episodes in the local store like they
//! do. Each snapshot is serialised once and fanned out through a broadcast
//! channel: a hundred open browsers cost a hundred socket writes, not a
//! hundred fleets of probes.
//!
//! Who may ask is decided in module `access`: loopback without a token (with a
//! DNS-rebinding guard), anything else with a random token printed at start;
//! a request another site's page makes is refused either way. Every answer
//! carries [`CSP`], the desktop window's policy.
#![deny(missing_docs)]

mod access;
mod api;
mod pages;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use axum::middleware;
use axum::Router;
use fleetdeck_core::contract::FleetInfo;
use fleetdeck_core::fleet::Fleet;
use fleetdeck_core::probe::prometheus::PrometheusClient;
use fleetdeck_core::watch::{FleetWatch, IncidentStore, Snapshots};
use tokio::sync::{broadcast, Semaphore};

/// The Content-Security-Policy of every answer, and of the desktop window:
/// `src-tauri/tauri.conf.json` spells the same directives out one by one, and
/// a test of the desktop shell fails when the two differ. Nothing remote:
/// scripts, styles, fonts, images and connections from the page's own origin
/// only (`ipc:` and `http://ipc.localhost` are Tauri's IPC, unused by a
/// browser), no inline styles or scripts, no plugins, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       font-src 'self' data:; connect-src 'self' ipc: http://ipc.localhost; object-src 'none'; \
                       base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The default address: loopback, on a port no common service uses.
pub const DEFAULT_BIND: &str = "127.0.0.1:8686";

/// EXPLAINs run at once; more wait their turn, so a burst of clicks cannot
/// open a burst of connections to a node that is already struggling.
const EXPLAIN_SLOTS: usize = 4;

/// How `fleetdeck serve` was started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; anything but loopback requires the printed token.
    pub bind: SocketAddr,
    /// Serve the UI from this directory instead of the one built in (UI
    /// development: a rebuilt `ui/dist` is picked up without a restart).
    pub ui_dir: Option<PathBuf>,
}

/// Why `fleetdeck serve` could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--ui-dir` names a directory without a built UI.
    #[error("--ui-dir {}: no index.html there", .0.display())]
    NoUi(PathBuf),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// Accepting connections failed.
    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),
}

/// One serialised snapshot: its `seq` and its JSON.
type Published = (u64, Arc<str>);

/// What every request handler shares.
struct Served {
    fleet: Arc<Fleet>,
    info: FleetInfo,
    prometheus: Option<PrometheusClient>,
    published: broadcast::Sender<Published>,
    latest: RwLock<Option<Published>>,
    /// Required off loopback (see [`access`]).
    token: Option<String>,
    /// The token cookie's name on this port.
    cookie_name: String,
    explain_slots: Semaphore,
    /// `--ui-dir`; None serves the UI built in.
    ui_dir: Option<PathBuf>,
}

impl Served {
    fn latest(&self) -> Option<Published> {
        self.latest.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Serves `fleet` until Ctrl-C or SIGTERM, then stops the watch, waiting until
/// the incident store has every event.
pub async fn run(fleet: Fleet, options: Options) -> Result<(), Error> {
    if let Some(dir) = &options.ui_dir {
        if !dir.join("index.html").is_file() {
            return Err(Error::NoUi(dir.clone()));
        }
    }
    let bind = options.bind;
    let token = (!bind.ip().is_loopback()).then(access::new_token);
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|source| Error::Bind { addr: bind, source })?;
    let local = listener.local_addr().map_err(Error::Serve)?;
    let (served, watch) = start(fleet, IncidentStore::Default, token.clone(), local.port(), options.ui_dir.clone());
    match &token {
        None => println!("fleetdeck serve: http://{local}/"),
        Some(t) if local.ip().is_unspecified() => {
            println!("fleetdeck serve: http://<this machine's address>:{}/?token={t}", local.port())
        }
        Some(t) => println!("fleetdeck serve: http://{local}/?token={t}"),
    }
    match &options.ui_dir {
        Some(dir) => println!("fleetdeck serve: UI from {}", dir.display()),
        None => println!("fleetdeck serve: UI built in"),
    }
    let served = tokio::select! {
        r = axum::serve(listener, router(served)) => r.map_err(Error::Serve),
        // Open event streams never end by themselves, so do not wait for them.
        _ = shutdown_signal() => Ok(()),
    };
    watch.stop().await;
    served
}

/// Ctrl-C, or SIGTERM (a service manager, a test harness).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Starts watching `fleet` and publishing its snapshots; returns the state
/// the handlers share and the watch, to stop before exiting.
fn start(
    fleet: Fleet,
    incidents: IncidentStore,
    token: Option<String>,
    port: u16,
    ui_dir: Option<PathBuf>,
) -> (Arc<Served>, FleetWatch) {
    let (published, _) = broadcast::channel(16);
    let served = Arc::new(Served {
        info: FleetInfo::new(&fleet, false, true),
        prometheus: fleet.prometheus.clone().map(PrometheusClient::new),
        fleet: Arc::new(fleet.clone()),
        published,
        latest: RwLock::new(None),
        token,
        cookie_name: access::cookie_name(port),
        explain_slots: Semaphore::new(EXPLAIN_SLOTS),
        ui_dir,
    });
    let watch = FleetWatch::spawn(fleet, incidents);
    tokio::spawn(publish(watch.subscribe(), Arc::clone(&served)));
    (served, watch)
}

/// Serialises each snapshot of the stream once and publishes it to every
/// open event stream; ends with the stream.
async fn publish(mut snapshots: Snapshots, served: Arc<Served>) {
    let mut first = true;
    while snapshots.changed().await.is_ok() {
        let Some(snapshot) = snapshots.borrow_and_update().clone() else { continue };
        if std::mem::take(&mut first) {
            if let Some(e) = &snapshot.store.error {
                eprintln!("fleetdeck serve: incidents are not being recorded: {e}");
            }
        }
        let json: Arc<str> = match serde_json::to_string(&*snapshot) {
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
    api::router(&served)
        .merge(pages::router(&served))
        .layer(middleware::from_fn(access::security_headers))
        .layer(middleware::from_fn_with_state(served, access::access))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use axum::http::{header, StatusCode};
    use fleetdeck_core::contract::{ErrorCode, UiError};

    use super::*;

    /// A fleet whose only node listens nowhere: refreshes finish (unreachable)
    /// without the lab, which is all the HTTP layer needs.
    fn offline_fleet() -> Fleet {
        let text = "name = \"offline\"\n[probe]\ntimeout_ms = 200\ninterval_ms = 200\n\
                    [[postgres]]\nname = \"pg0\"\nmonitor = \"host=127.0.0.1 port=9 dbname=x user=y sslmode=disable\"\n";
        Fleet::parse(Path::new("offline.toml"), text).expect("test fleet parses")
    }

    /// Serves the offline fleet on a free loopback port; the watch must be
    /// kept for as long as the test wants snapshots. No incident store: tests
    /// never write the user's.
    pub(crate) async fn serve_on_loopback(token: Option<String>, ui_dir: Option<PathBuf>) -> (SocketAddr, FleetWatch) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (served, watch) = start(offline_fleet(), IncidentStore::Off, token, addr.port(), ui_dir);
        tokio::spawn(async move { axum::serve(listener, router(served)).await });
        (addr, watch)
    }

    #[test]
    fn the_csp_allows_no_remote_origin() {
        assert!(CSP.starts_with("default-src 'self';"), "built from default-src 'self': {CSP}");
        assert!(CSP.contains("object-src 'none'") && CSP.contains("frame-ancestors 'none'"), "{CSP}");
        for source in CSP.split([';', ' ']).filter(|s| s.starts_with("http")) {
            assert_eq!(source, "http://ipc.localhost", "Tauri's IPC is the only origin named: {CSP}");
        }
        assert!(!CSP.contains("https:") && !CSP.contains('*'), "no scheme or wildcard sources: {CSP}");
        assert!(!CSP.contains("unsafe-"), "no inline scripts or styles, no eval: {CSP}");
        assert!(axum::http::HeaderValue::from_str(CSP).is_ok(), "a valid header value");
    }

    #[tokio::test]
    async fn the_api_answers_read_only_and_streams_snapshots() {
        let (addr, _watch) = serve_on_loopback(None, None).await;
        let http = reqwest::Client::new();
        let info = http.get(format!("http://{addr}/api/fleet")).send().await.unwrap();
        assert_eq!(info.headers()[header::CONTENT_SECURITY_POLICY], CSP, "API answers carry the CSP too");
        let info: FleetInfo = info.json().await.unwrap();
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
    async fn a_late_client_gets_the_latest_snapshot_first() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (served, _watch) = start(offline_fleet(), IncidentStore::Off, None, addr.port(), None);
        let app = router(Arc::clone(&served));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut published = served.published.subscribe();
        let deadline = std::time::Duration::from_secs(10);
        while published_seq(&mut published, deadline).await < 1 {}

        let mut sse = reqwest::get(format!("http://{addr}/api/snapshots")).await.unwrap();
        let chunk = tokio::time::timeout(deadline, sse.chunk()).await.expect("an event at once").unwrap().unwrap();
        let text = String::from_utf8_lossy(&chunk);
        assert!(text.starts_with("event: snapshot"), "the stream opens with the latest snapshot: {text}");
        let id: u64 = text.lines().find_map(|l| l.strip_prefix("id: ")).expect("events carry the seq").parse().unwrap();
        assert!(id >= 1, "a client arriving after two refreshes starts from the latest, not from the first: seq {id}");
    }

    async fn published_seq(published: &mut broadcast::Receiver<Published>, within: std::time::Duration) -> u64 {
        let (seq, _) = tokio::time::timeout(within, published.recv()).await.expect("a refresh in time").unwrap();
        seq
    }
}
