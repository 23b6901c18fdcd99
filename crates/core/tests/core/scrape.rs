//! Direct `/metrics` scrapes: the lab's workload keeps its `vllm:` names through
//! our parser, and failed scrapes say why (status, timeout, refused).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fleetdeck_core::fleet::ScrapeEndpoint;
use fleetdeck_core::probe::scrape::{scrape, summary};
use fleetdeck_core::probe::ProbeError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::lab_fleet;
use crate::pgbouncer::{assert_on_time, guarded, hung_listener};

/// A local HTTP/1.1 server that answers every request with `status` and `body`.
pub async fn http_listener(status: &str, content_type: &str, body: &str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a local port");
    let addr = listener.local_addr().unwrap();
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                // Read the whole request head first: answering early can reset the connection.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

fn chatload() -> ScrapeEndpoint {
    let fleet = lab_fleet();
    fleet.scrape.iter().find(|s| s.name == "chatload").cloned().expect("the lab's fleet scrapes chatload")
}

#[tokio::test]
async fn the_workload_keeps_its_vllm_names_with_no_parse_errors() {
    let endpoint = chatload();
    let client = reqwest::Client::new();
    let result = scrape(&client, &endpoint.url, Duration::from_secs(5)).await;
    let exposition = result.as_ref().unwrap_or_else(|e| panic!("chatload /metrics: {e}"));
    assert!(exposition.errors.is_empty(), "the workload's exposition is well formed: {:?}", exposition.errors);
    for name in ["vllm:num_requests_running", "vllm:generation_tokens_total", "vllm:kv_cache_usage_perc"] {
        assert!(
            exposition.samples.iter().any(|s| s.name == name),
            "{name} must survive parsing (prometheus-parse drops every name with ':')"
        );
    }
    assert!(
        exposition.samples.iter().any(|s| s.name == "moderation_requests_total" && s.label("decision").is_some()),
        "moderation counters carry their decision label"
    );

    let s = summary(&endpoint, &result);
    assert!(s.reachable && s.error.is_none(), "{s:?}");
    assert_eq!(s.samples as usize, exposition.samples.len());
    assert!(s.parse_errors.is_empty(), "{:?}", s.parse_errors);
    assert_eq!((s.name.as_str(), s.url.as_str()), ("chatload", endpoint.url.as_str()));
}

#[tokio::test]
async fn an_http_500_is_a_query_error_with_the_status() {
    let addr = http_listener("500 Internal Server Error", "text/plain", "engine overloaded").await;
    let url = format!("http://{addr}/metrics");
    let result = scrape(&reqwest::Client::new(), &url, Duration::from_secs(2)).await;
    let Err(ProbeError::Query { what, reason }) = &result else { panic!("a 500 is a Query error: {result:?}") };
    assert_eq!(what, &format!("GET {url}"));
    assert_eq!(reason, "HTTP 500 Internal Server Error: engine overloaded", "the status and the body say why");
    let s = summary(&ScrapeEndpoint { name: "engine".into(), url }, &result);
    assert!(!s.reachable && s.error.as_deref().is_some_and(|e| e.contains("HTTP 500")), "{s:?}");
}

#[tokio::test]
async fn an_endpoint_that_never_answers_times_out_within_the_timeout() {
    let addr = hung_listener().await;
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let result = guarded(timeout, scrape(&reqwest::Client::new(), &format!("http://{addr}/metrics"), timeout)).await;
    assert!(matches!(result, Err(ProbeError::Timeout(t)) if t == timeout), "{result:?}");
    assert_on_time("a scrape of a hung endpoint", started.elapsed(), timeout);
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_at_once() {
    let started = Instant::now();
    let result = scrape(&reqwest::Client::new(), "http://127.0.0.1:1/metrics", Duration::from_secs(2)).await;
    assert!(matches!(&result, Err(ProbeError::Connect { reason, .. }) if reason.contains("refused")), "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(500), "a refused connection must not wait for the timeout");
}
