//! One chat turn, end to end.
//!
//! Why it exists: this is the workload FleetDeck watches — the sequence a
//! ChatGPT-like backend runs per user message: find the conversation
//! (replica), load its context (Redis, else replica), moderate the input,
//! run inference, moderate the output, persist both messages (primary, one
//! transaction), refresh the cache. Every failure ends the turn with
//! `outcome="error"` (already counted by stage/target where it happened);
//! nothing here panics or waits without a bound.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;

use crate::app::App;
use crate::cache::context_key;
use crate::db::{self, CtxMessage, TurnWrite};
use crate::metrics::MODEL_NAME;
use crate::sim::{self, Decision, SYSTEM_PROMPT_TOKENS};

/// Messages of context kept (and read from the database).
pub const CONTEXT_MESSAGES: usize = 20;
/// Share of turns that continue the user's latest conversation.
pub const CONTINUE_SHARE: f64 = 0.8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Blocked,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Blocked => "blocked",
            Outcome::Error => "error",
        }
    }
}

/// The turn's failure was already counted and logged where it happened.
struct Failed;

impl From<anyhow::Error> for Failed {
    fn from(_: anyhow::Error) -> Self {
        Failed
    }
}

pub async fn run_turn(app: &App, mut rng: StdRng) {
    let started = Instant::now();
    let outcome = turn(app, &mut rng).await.unwrap_or(Outcome::Error);
    app.metrics.turns.inc(&[outcome.as_str()]);
    app.metrics
        .turn_duration
        .observe(&[outcome.as_str()], started.elapsed().as_secs_f64());
}

async fn turn(app: &App, rng: &mut StdRng) -> Result<Outcome, Failed> {
    let started = Instant::now();
    let user = app.dists.user(rng);

    // 1. The conversation: usually the user's latest one.
    let latest = if rng.random_bool(CONTINUE_SHARE) {
        app.db
            .read("latest_conversation", |c| async move {
                db::latest_conversation(&c, user).await
            })
            .await?
    } else {
        None
    };
    let (conversation, is_new) = match latest {
        Some(id) => (id, false),
        None => {
            let title = sim::synthetic_text(rng, 6);
            let id = app
                .db
                .write("create_conversation", |c| async move {
                    db::create_conversation(&c, user, &title, MODEL_NAME).await
                })
                .await?;
            (id, true)
        }
    };

    // 2. Context, cache-aside.
    let key = context_key(conversation);
    let mut context = if is_new {
        Vec::new()
    } else {
        load_context(app, rng, conversation, &key).await?
    };

    // 3. Input moderation.
    let user_tokens = app.dists.user_message_tokens(rng);
    let user_content = sim::synthetic_text(rng, user_tokens);
    let input_decision = moderate(app, rng, "input").await;
    if input_decision == Decision::Blocked {
        return Ok(Outcome::Blocked);
    }

    // 4. Inference.
    let context_tokens: u32 = context
        .iter()
        .map(|m| sim::estimate_tokens(&m.content) + 4)
        .sum();
    let prompt_tokens = SYSTEM_PROMPT_TOKENS + context_tokens + user_tokens;
    let (generation_tokens, finish) = app.dists.generation(rng);
    let inference = app
        .inference
        .generate(prompt_tokens, generation_tokens, finish)
        .await;
    tracing::debug!(
        conversation,
        prompt_tokens,
        generation_tokens,
        finish = inference.finish.as_str(),
        ttft_ms = inference.ttft.as_millis() as u64,
        e2e_ms = inference.e2e.as_millis() as u64,
        "inference done"
    );

    // 5. Output moderation, then persist.
    let output_decision = moderate(app, rng, "output").await;
    let assistant_content = if output_decision == Decision::Blocked {
        "I can't help with that.".to_string()
    } else {
        sim::synthetic_text(rng, generation_tokens)
    };
    let write = TurnWrite {
        conversation_id: conversation,
        user_id: user,
        user_content: &user_content,
        user_tokens: user_tokens as i32,
        user_moderation: input_decision.as_str(),
        user_age_secs: started.elapsed().as_secs_f64(),
        assistant_content: &assistant_content,
        prompt_tokens: prompt_tokens as i32,
        completion_tokens: generation_tokens as i32,
        assistant_moderation: output_decision.as_str(),
    };
    app.db
        .write(
            "write_turn",
            |c| async move { db::write_turn(&c, &write).await },
        )
        .await?;

    // 6. Refresh the cached context (best effort).
    context.push(CtxMessage {
        role: "user".into(),
        content: user_content,
    });
    context.push(CtxMessage {
        role: "assistant".into(),
        content: assistant_content,
    });
    store_context(app, rng, &key, &mut context).await;

    Ok(if output_decision == Decision::Blocked {
        Outcome::Blocked
    } else {
        Outcome::Ok
    })
}

async fn load_context(
    app: &App,
    rng: &mut StdRng,
    conversation: i64,
    key: &str,
) -> Result<Vec<CtxMessage>, Failed> {
    match app.cache.get(key).await {
        Ok(Some(json)) => match serde_json::from_str::<Vec<CtxMessage>>(&json) {
            Ok(ctx) => {
                app.metrics.cache_requests.inc(&["hit"]);
                return Ok(ctx);
            }
            Err(e) => {
                // Unreadable entry: treat as a miss and overwrite it.
                app.reporter
                    .report("cache_decode", "redis", &app.cache.node, &e);
                app.metrics.cache_requests.inc(&["miss"]);
            }
        },
        Ok(None) => app.metrics.cache_requests.inc(&["miss"]),
        Err(e) => app
            .reporter
            .report("cache_get", "redis", &app.cache.node, &e),
    }
    let mut ctx = app
        .db
        .read("context_read", |c| async move {
            db::context(&c, conversation).await
        })
        .await?;
    store_context(app, rng, key, &mut ctx).await;
    Ok(ctx)
}

/// Trims to the last [`CONTEXT_MESSAGES`] and writes with a 60–300 s TTL.
async fn store_context(app: &App, rng: &mut StdRng, key: &str, ctx: &mut Vec<CtxMessage>) {
    if ctx.len() > CONTEXT_MESSAGES {
        ctx.drain(..ctx.len() - CONTEXT_MESSAGES);
    }
    let ttl = Duration::from_secs(rng.random_range(60..=300));
    let json = serde_json::to_string(ctx).expect("context serializes");
    if let Err(e) = app.cache.set_ex(key, &json, ttl).await {
        app.reporter
            .report("cache_set", "redis", &app.cache.node, &e);
    }
}

async fn moderate(app: &App, rng: &mut StdRng, stage: &'static str) -> Decision {
    let latency = app.dists.moderation_latency(rng);
    tokio::time::sleep(latency).await;
    let decision = sim::moderation_decision(rng);
    app.metrics
        .moderation_requests
        .inc(&[stage, decision.as_str()]);
    app.metrics
        .moderation_latency
        .observe(&[stage], latency.as_secs_f64());
    decision
}
