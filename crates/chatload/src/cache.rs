//! Redis cache-aside for conversation context (`conv:{id}:ctx`).
//!
//! Why it exists: a chat backend keeps the recent context of a conversation
//! in Redis so most turns skip the replica read; FleetDeck watches the hit
//! ratio and what happens to the replicas when Redis dies. This wrapper holds
//! one multiplexed connection, bounds every command with a short timeout,
//! drops the connection on any transport error and reconnects lazily with
//! backoff. While Redis is down, callers get an error at once (and read the
//! database instead); they never wait on it.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, bail};
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;

use crate::errors::Breaker;

pub fn context_key(conversation_id: i64) -> String {
    format!("conv:{conversation_id}:ctx")
}

pub struct Cache {
    client: redis::Client,
    /// host:port, for logs.
    pub node: String,
    conn: Mutex<Option<MultiplexedConnection>>,
    /// Held while connecting so only one task dials at a time.
    connecting: tokio::sync::Mutex<()>,
    breaker: Breaker,
    timeout: Duration,
}

impl Cache {
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client =
            redis::Client::open(url).map_err(|e| anyhow!("invalid Redis URL {url:?}: {e}"))?;
        let node = client.get_connection_info().addr().to_string();
        Ok(Cache {
            client,
            node,
            conn: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            breaker: Breaker::new(Duration::from_millis(250), Duration::from_secs(5)),
            timeout,
        })
    }

    async fn connection(&self) -> anyhow::Result<MultiplexedConnection> {
        if let Some(c) = self.conn.lock().unwrap().as_ref() {
            return Ok(c.clone());
        }
        if let Err(left) = self.breaker.check() {
            bail!("redis {} in reconnect backoff ({left:.1?} left)", self.node);
        }
        // One dialer at a time; the others wait for its result, but no
        // longer than one command timeout.
        let Ok(_dialing) = tokio::time::timeout(self.timeout, self.connecting.lock()).await else {
            bail!("redis {} reconnect in progress", self.node);
        };
        self.breaker.check().map_err(|left| {
            anyhow!("redis {} in reconnect backoff ({left:.1?} left)", self.node)
        })?;
        if let Some(c) = self.conn.lock().unwrap().as_ref() {
            return Ok(c.clone());
        }
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout.max(Duration::from_millis(500))))
            .set_response_timeout(Some(self.timeout));
        match self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
        {
            Ok(c) => {
                self.breaker.success();
                *self.conn.lock().unwrap() = Some(c.clone());
                tracing::info!(node = %self.node, "connected to redis");
                Ok(c)
            }
            Err(e) => {
                let wait = self.breaker.failure();
                Err(anyhow!(e).context(format!(
                    "connect to redis {} (retry in {wait:?})",
                    self.node
                )))
            }
        }
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> anyhow::Result<T> {
        let mut c = self.connection().await?;
        match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut c)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                // A server-side error reply leaves the connection usable.
                if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || e.is_unrecoverable_error()
                {
                    self.reset();
                }
                Err(anyhow!(e).context(format!("redis {}", self.node)))
            }
            Err(_) => {
                self.reset();
                bail!("redis {} timed out after {:?}", self.node, self.timeout)
            }
        }
    }

    fn reset(&self) {
        if self.conn.lock().unwrap().take().is_some() {
            self.breaker.failure();
        }
    }

    pub async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        self.query(cmd).await
    }

    pub async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> anyhow::Result<()> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("EX").arg(ttl.as_secs().max(1));
        self.query::<()>(cmd).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_format() {
        assert_eq!(context_key(42), "conv:42:ctx");
    }

    #[tokio::test]
    async fn dead_redis_fails_fast_then_backs_off() {
        // Nothing listens on port 1.
        let cache = Cache::new("redis://127.0.0.1:1/", Duration::from_millis(200)).unwrap();
        assert!(cache.get("k").await.is_err());
        let started = std::time::Instant::now();
        let err = cache.get("k").await.unwrap_err();
        assert!(err.to_string().contains("backoff"), "{err:#}");
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}
