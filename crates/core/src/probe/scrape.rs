//! Direct `/metrics` scrapes: inference servers and the lab's workload read
//! without going through Prometheus, so the console still sees them when
//! Prometheus is the thing that is down, and sees them at the refresh rate
//! rather than at the scrape interval.
//!
//! The body is parsed with `fleetdeck-exposition`, which keeps the `vllm:`
//! names that `prometheus-parse` drops; lines it cannot read are carried into
//! the summary with their line numbers rather than hidden. This module also
//! holds the reqwest error mapping shared with the Prometheus client.

use std::time::Duration;

use fleetdeck_exposition::Exposition;

use super::ProbeError;
use crate::fleet::ScrapeEndpoint;
use crate::snapshot::ScrapeSummary;

/// At most this many parse errors are kept in a summary: an HTML error page
/// served as `/metrics` would otherwise put hundreds of lines in every snapshot.
const MAX_PARSE_ERRORS: usize = 20;

/// The text exposition format, version 0.0.4: what the parser reads. Asking for
/// it explicitly keeps servers that can also speak OpenMetrics or protobuf on
/// the format we understand.
const ACCEPT: &str = "text/plain;version=0.0.4;q=1.0, */*;q=0.1";

/// `GET url` within `timeout` and parse the body. A non-2xx answer is a
/// [`ProbeError::Query`] carrying the status; a body that is not UTF-8 is
/// [`ProbeError::Malformed`]. Lines the parser cannot read are not an error
/// here: they come back in [`Exposition::errors`].
pub async fn scrape(client: &reqwest::Client, url: &str, timeout: Duration) -> Result<Exposition, ProbeError> {
    let what = format!("GET {url}");
    let fetch = async {
        let response = client
            .get(url)
            .header(reqwest::header::ACCEPT, ACCEPT)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| request_error(&e, url, &what, timeout))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| request_error(&e, url, &what, timeout))?;
        if !status.is_success() {
            return Err(ProbeError::Query { what: what.clone(), reason: format!("HTTP {status}{}", snippet(&body)) });
        }
        let text = std::str::from_utf8(&body)
            .map_err(|e| ProbeError::Malformed { what: what.clone(), reason: format!("body is not UTF-8: {e}") })?;
        Ok(fleetdeck_exposition::parse(text))
    };
    match tokio::time::timeout(timeout, fetch).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::Timeout(timeout)),
    }
}

/// The snapshot's view of one scrape: reachable with its sample count and
/// parse errors (`line N: reason`, at most 20), or unreachable with the error.
pub fn summary(endpoint: &ScrapeEndpoint, result: &Result<Exposition, ProbeError>) -> ScrapeSummary {
    match result {
        Ok(exposition) => {
            let mut parse_errors: Vec<String> = exposition
                .errors
                .iter()
                .take(MAX_PARSE_ERRORS)
                .map(|e| format!("line {}: {}", e.line, e.message))
                .collect();
            if exposition.errors.len() > MAX_PARSE_ERRORS {
                parse_errors.push(format!("… and {} more", exposition.errors.len() - MAX_PARSE_ERRORS));
            }
            ScrapeSummary {
                name: endpoint.name.clone(),
                url: endpoint.url.clone(),
                reachable: true,
                error: None,
                samples: u32::try_from(exposition.samples.len()).unwrap_or(u32::MAX),
                parse_errors,
                read_at: None,
                age_seconds: None,
            }
        }
        Err(e) => ScrapeSummary {
            name: endpoint.name.clone(),
            url: endpoint.url.clone(),
            reachable: false,
            error: Some(e.to_string()),
            samples: 0,
            parse_errors: Vec::new(),
            read_at: None,
            age_seconds: None,
        },
    }
}

/// Maps a reqwest failure: timeouts to [`ProbeError::Timeout`], failures to
/// connect to [`ProbeError::Connect`] (with the cause, which reqwest's own
/// message hides in its source chain), anything else to [`ProbeError::Query`].
pub(super) fn request_error(e: &reqwest::Error, url: &str, what: &str, timeout: Duration) -> ProbeError {
    if e.is_timeout() {
        return ProbeError::Timeout(timeout);
    }
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = inner.source();
    }
    if e.is_connect() {
        ProbeError::Connect { address: url.to_string(), reason }
    } else {
        ProbeError::Query { what: what.to_string(), reason }
    }
}

/// `": <first 200 characters of the body>"` for error messages, or nothing for an empty body.
pub(super) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!(": {}…", &text[..cut]),
        None => format!(": {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> ScrapeEndpoint {
        ScrapeEndpoint { name: "chatload".into(), url: "http://127.0.0.1:19100/metrics".into() }
    }

    #[test]
    fn a_summary_counts_samples_and_names_bad_lines() {
        let parsed = fleetdeck_exposition::parse("vllm:num_requests_running 3\nthis is not a sample\nup 1\n");
        let s = summary(&endpoint(), &Ok(parsed));
        assert!(s.reachable && s.error.is_none());
        assert_eq!(s.samples, 2, "the good lines around a bad one are kept");
        assert_eq!(s.parse_errors.len(), 1);
        assert!(s.parse_errors[0].starts_with("line 2: "), "{:?}", s.parse_errors);
    }

    #[test]
    fn parse_errors_are_capped_with_a_count_of_the_rest() {
        let body = "<html>\n".repeat(50);
        let s = summary(&endpoint(), &Ok(fleetdeck_exposition::parse(&body)));
        assert_eq!(s.parse_errors.len(), MAX_PARSE_ERRORS + 1);
        assert_eq!(s.parse_errors.last().unwrap(), "… and 30 more");
    }

    #[test]
    fn a_failed_scrape_is_unreachable_with_its_error() {
        let e = ProbeError::Query { what: "GET x".into(), reason: "HTTP 500 Internal Server Error".into() };
        let s = summary(&endpoint(), &Err(e));
        assert!(!s.reachable);
        assert_eq!(s.error.as_deref(), Some("GET x failed: HTTP 500 Internal Server Error"));
        assert_eq!(s.samples, 0);
    }

    #[test]
    fn snippets_are_trimmed_and_cut() {
        assert_eq!(snippet(b"  \n"), "");
        assert_eq!(snippet(b" boom\n"), ": boom");
        assert!(snippet("é".repeat(300).as_bytes()).ends_with('…'), "cut on a character boundary");
    }
}
