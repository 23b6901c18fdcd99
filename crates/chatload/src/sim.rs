//! Distributions and the simulated services (moderation, vLLM-like inference).
//!
//! Why it exists: the lab has no model and no moderation service, but
//! FleetDeck's panels read their metrics. This module turns seeded random
//! draws into plausible behaviour: skewed users, lognormal latencies and
//! token counts, and an inference server with a fixed number of running slots
//! whose queue wait and per-token decode time grow with load, so latency and
//! `num_requests_waiting` respond when the lab raises the rate. The pure
//! functions are kept separate from the async simulator so they can be tested
//! with a fixed seed.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Zipf};
use tokio::sync::Semaphore;
// tokio's clock, so the simulator runs under a paused test clock too.
use tokio::time::Instant;

use crate::metrics::Metrics;

/// Number of users the lab seeds (ids 1..=USERS).
pub const USERS: u64 = 5000;
/// Generation is cut at this many tokens (`finished_reason="length"`).
pub const MAX_GENERATION_TOKENS: u32 = 1024;
/// KV-cache capacity per running slot, in tokens.
pub const KV_TOKENS_PER_SLOT: u64 = 2048;
/// Tokens of the (implicit) system prompt every request carries.
pub const SYSTEM_PROMPT_TOKENS: u32 = 40;

/// Fixed, seeded-sampling distributions shared by all turns.
pub struct Dists {
    user: Zipf<f64>,
    moderation_latency: LogNormal<f64>,
    generation_tokens: LogNormal<f64>,
    user_message_tokens: LogNormal<f64>,
}

impl Default for Dists {
    fn default() -> Self {
        Self::new()
    }
}

impl Dists {
    pub fn new() -> Self {
        Dists {
            // s = 1.07: a few heavy users, a long tail; all ids get traffic.
            user: Zipf::new(USERS as f64, 1.07).expect("valid zipf"),
            // median 15 ms
            moderation_latency: LogNormal::new((0.015f64).ln(), 0.5).expect("valid lognormal"),
            // median 200 tokens
            generation_tokens: LogNormal::new(200f64.ln(), 0.6).expect("valid lognormal"),
            // median 30 tokens
            user_message_tokens: LogNormal::new(30f64.ln(), 0.7).expect("valid lognormal"),
        }
    }

    /// A user id in 1..=USERS, Zipf-skewed towards low ids.
    pub fn user<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        (self.user.sample(rng) as i64).clamp(1, USERS as i64)
    }

    pub fn moderation_latency<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        Duration::from_secs_f64(self.moderation_latency.sample(rng).min(2.0))
    }

    /// Generation length, capped; a capped draw finishes with "length".
    pub fn generation<R: Rng + ?Sized>(&self, rng: &mut R) -> (u32, FinishReason) {
        let t = self.generation_tokens.sample(rng).round().max(1.0);
        if t >= MAX_GENERATION_TOKENS as f64 {
            (MAX_GENERATION_TOKENS, FinishReason::Length)
        } else {
            (t as u32, FinishReason::Stop)
        }
    }

    pub fn user_message_tokens<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        self.user_message_tokens
            .sample(rng)
            .round()
            .clamp(1.0, 2000.0) as u32
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Flagged,
    Blocked,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Flagged => "flagged",
            Decision::Blocked => "blocked",
        }
    }
}

/// allowed 97 %, flagged 2.5 %, blocked 0.5 %.
pub fn moderation_decision<R: Rng + ?Sized>(rng: &mut R) -> Decision {
    let u: f64 = rng.random();
    if u < 0.005 {
        Decision::Blocked
    } else if u < 0.030 {
        Decision::Flagged
    } else {
        Decision::Allowed
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// Prefill time grows linearly with the prompt.
pub fn prefill_time(prompt_tokens: u32) -> Duration {
    Duration::from_secs_f64(0.015 + prompt_tokens as f64 * 0.000_04)
}

/// Per-token decode time grows with the number of co-running requests
/// (batching makes each step slower): 2 ms alone, 4 ms with all slots busy.
/// With the default 32 slots this saturates at roughly 30 turns/s; the
/// default 20 turns/s keeps about half the slots busy.
pub fn decode_time_per_token(running: usize, slots: usize) -> Duration {
    let load = running as f64 / slots.max(1) as f64;
    Duration::from_secs_f64(0.002 * (1.0 + load))
}

/// Rough token count of a text (4 characters per token, at least 1).
pub fn estimate_tokens(text: &str) -> u32 {
    ((text.len() / 4).max(1)).min(u32::MAX as usize) as u32
}

const WORDS: &[&str] = &[
    "the",
    "model",
    "query",
    "index",
    "replica",
    "cache",
    "latency",
    "token",
    "please",
    "explain",
    "why",
    "how",
    "could",
    "would",
    "summarize",
    "code",
    "rust",
    "python",
    "database",
    "vacuum",
    "write",
    "a",
    "short",
    "story",
    "about",
    "cats",
    "plan",
    "trip",
    "recipe",
    "for",
    "dinner",
    "tomorrow",
    "and",
    "then",
    "error",
    "fix",
    "this",
    "function",
    "review",
    "email",
    "draft",
];

/// Synthetic text of roughly `tokens` tokens (≈ 4 characters each).
pub fn synthetic_text<R: Rng + ?Sized>(rng: &mut R, tokens: u32) -> String {
    let target = tokens as usize * 4;
    let mut s = String::with_capacity(target + 16);
    while s.len() < target {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    s
}

/// Timing of one simulated inference request.
#[derive(Debug, Clone, Copy)]
pub struct InferenceResult {
    pub ttft: Duration,
    pub e2e: Duration,
    pub finish: FinishReason,
}

/// A vLLM-like server: `slots` requests run at once, the rest wait.
pub struct Inference {
    slots: usize,
    permits: Semaphore,
    running: AtomicUsize,
    kv_tokens: AtomicU64,
    metrics: Arc<Metrics>,
}

/// Undoes the gauges when a request leaves a state, also on cancellation.
struct Leave<'a> {
    inf: &'a Inference,
    running: bool,
    kv: u64,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if self.running {
            self.inf.running.fetch_sub(1, Ordering::Relaxed);
            self.inf.metrics.running.add(&[], -1.0);
        } else {
            self.inf.metrics.waiting.add(&[], -1.0);
        }
        self.inf.kv_tokens.fetch_sub(self.kv, Ordering::Relaxed);
        self.inf.publish_kv();
    }
}

impl Inference {
    pub fn new(slots: usize, metrics: Arc<Metrics>) -> Self {
        let slots = slots.max(1);
        Inference {
            slots,
            permits: Semaphore::new(slots),
            running: AtomicUsize::new(0),
            kv_tokens: AtomicU64::new(0),
            metrics,
        }
    }

    fn publish_kv(&self) {
        let cap = (self.slots as u64 * KV_TOKENS_PER_SLOT) as f64;
        let used = self.kv_tokens.load(Ordering::Relaxed) as f64;
        self.metrics
            .kv_cache_usage
            .set(&[], (used / cap).clamp(0.0, 1.0));
    }

    fn add_kv(&self, guard: &mut Leave<'_>, tokens: u64) {
        self.kv_tokens.fetch_add(tokens, Ordering::Relaxed);
        guard.kv += tokens;
        self.publish_kv();
    }

    /// Runs one request: queue, prefill, decode. Records the vLLM metrics.
    pub async fn generate(
        &self,
        prompt_tokens: u32,
        generation_tokens: u32,
        finish: FinishReason,
    ) -> InferenceResult {
        let arrived = Instant::now();
        self.metrics.waiting.add(&[], 1.0);
        let mut guard = Leave {
            inf: self,
            running: false,
            kv: 0,
        };
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        self.metrics.waiting.add(&[], -1.0);
        self.metrics.running.add(&[], 1.0);
        self.running.fetch_add(1, Ordering::Relaxed);
        guard.running = true;

        self.add_kv(&mut guard, prompt_tokens as u64);
        tokio::time::sleep(prefill_time(prompt_tokens)).await;
        self.metrics.prompt_tokens.add(&[], prompt_tokens as f64);
        let ttft = arrived.elapsed();
        self.metrics.ttft.observe(&[], ttft.as_secs_f64());

        // Decode in chunks so the per-token time follows the current load
        // without a timer per token.
        const CHUNK: u32 = 16;
        let mut done = 0;
        while done < generation_tokens {
            let n = CHUNK.min(generation_tokens - done);
            let per_token = decode_time_per_token(self.running.load(Ordering::Relaxed), self.slots);
            tokio::time::sleep(per_token * n).await;
            done += n;
            self.metrics.generation_tokens.add(&[], n as f64);
            self.add_kv(&mut guard, n as u64);
        }
        drop(guard);

        let e2e = arrived.elapsed();
        self.metrics.e2e.observe(&[], e2e.as_secs_f64());
        self.metrics.request_success.inc(&[finish.as_str()]);
        InferenceResult { ttft, e2e, finish }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    }

    #[test]
    fn moderation_latency_median_is_about_15ms() {
        let d = Dists::new();
        let mut rng = StdRng::seed_from_u64(42);
        let m = median(
            (0..20_000)
                .map(|_| d.moderation_latency(&mut rng).as_secs_f64())
                .collect(),
        );
        assert!((0.013..0.017).contains(&m), "median {m}");
    }

    #[test]
    fn generation_tokens_median_is_about_200_and_capped() {
        let d = Dists::new();
        let mut rng = StdRng::seed_from_u64(42);
        let draws: Vec<(u32, FinishReason)> = (0..20_000).map(|_| d.generation(&mut rng)).collect();
        let m = median(draws.iter().map(|(t, _)| *t as f64).collect());
        assert!((185.0..215.0).contains(&m), "median {m}");
        assert!(draws
            .iter()
            .all(|(t, _)| (1..=MAX_GENERATION_TOKENS).contains(t)));
        for (t, r) in &draws {
            assert_eq!(*r == FinishReason::Length, *t == MAX_GENERATION_TOKENS);
        }
    }

    #[test]
    fn moderation_decisions_have_the_expected_mix() {
        let mut rng = StdRng::seed_from_u64(42);
        let n = 200_000;
        let (mut a, mut f, mut b) = (0, 0, 0);
        for _ in 0..n {
            match moderation_decision(&mut rng) {
                Decision::Allowed => a += 1,
                Decision::Flagged => f += 1,
                Decision::Blocked => b += 1,
            }
        }
        let p = |x: i32| x as f64 / n as f64;
        assert!((0.965..0.975).contains(&p(a)), "allowed {}", p(a));
        assert!((0.022..0.028).contains(&p(f)), "flagged {}", p(f));
        assert!((0.004..0.006).contains(&p(b)), "blocked {}", p(b));
    }

    #[test]
    fn users_are_in_range_and_skewed() {
        let d = Dists::new();
        let mut rng = StdRng::seed_from_u64(42);
        let users: Vec<i64> = (0..50_000).map(|_| d.user(&mut rng)).collect();
        assert!(users.iter().all(|u| (1..=USERS as i64).contains(u)));
        let top10 = users.iter().filter(|u| **u <= 10).count() as f64 / users.len() as f64;
        let tail = users.iter().filter(|u| **u > 2500).count();
        assert!(top10 > 0.2, "top 10 users get {top10}");
        assert!(tail > 0, "the tail still gets traffic");
    }

    #[test]
    fn same_seed_same_draws() {
        let d = Dists::new();
        let mut a = StdRng::seed_from_u64(7);
        let mut b = StdRng::seed_from_u64(7);
        for _ in 0..100 {
            assert_eq!(d.user(&mut a), d.user(&mut b));
            assert_eq!(d.generation(&mut a), d.generation(&mut b));
        }
    }

    #[test]
    fn service_times_grow_with_load_and_prompt() {
        assert!(decode_time_per_token(32, 32) > decode_time_per_token(1, 32));
        assert!(prefill_time(4000) > prefill_time(100));
        // A median request alone stays well inside the 0.2–3 s budget.
        let e2e = prefill_time(1000) + decode_time_per_token(16, 32) * 200;
        assert!(
            e2e > Duration::from_millis(200) && e2e < Duration::from_secs(3),
            "{e2e:?}"
        );
    }

    #[test]
    fn synthetic_text_has_roughly_the_asked_size() {
        let mut rng = StdRng::seed_from_u64(1);
        let t = synthetic_text(&mut rng, 50);
        assert!(
            estimate_tokens(&t) >= 50 && estimate_tokens(&t) < 55,
            "{}",
            t.len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn inference_queues_beyond_slots_and_resets_gauges() {
        let metrics = Arc::new(Metrics::new());
        let inf = Arc::new(Inference::new(2, metrics.clone()));
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let inf = inf.clone();
            tasks.push(tokio::spawn(async move {
                inf.generate(100, 50, FinishReason::Stop).await
            }));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(metrics.running.get(&[]), 2.0);
        assert_eq!(metrics.waiting.get(&[]), 3.0);
        assert!(metrics.kv_cache_usage.get(&[]) > 0.0);
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        assert_eq!(metrics.running.get(&[]), 0.0);
        assert_eq!(metrics.waiting.get(&[]), 0.0);
        assert_eq!(metrics.kv_cache_usage.get(&[]), 0.0);
        assert_eq!(metrics.generation_tokens.get(&[]), 250.0);
        assert_eq!(metrics.prompt_tokens.get(&[]), 500.0);
        assert_eq!(metrics.request_success.get(&["stop"]), 5.0);
        // The last ones waited in the queue, so their TTFT includes the wait.
        let max_ttft = results.iter().map(|r| r.ttft).max().unwrap();
        assert!(max_ttft > prefill_time(100) * 2, "{max_ttft:?}");
    }
}
