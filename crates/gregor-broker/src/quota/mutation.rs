//! The controller mutation quota (KIP-599, `controller_mutation_rate`):
//! partitions created, added or deleted per second, per (user, client id)
//! as the other client quotas resolve it.
//!
//! Each sensor is a token bucket, as Kafka's `TokenBucket` stat: it holds
//! at most `quota × quota.window.num × quota.window.size.seconds` tokens,
//! starts full, refills at `quota` per second, and each mutation takes one
//! token per partition, possibly driving it below zero. Requests from
//! CreateTopics v6, CreatePartitions v3 and DeleteTopics v5 on are strict:
//! a topic arriving while the bucket is below zero is refused with
//! THROTTLING_QUOTA_EXCEEDED. Older versions are permissive: every topic is
//! admitted and the response only carries a throttle time. Either way the
//! throttle time is how long the bucket needs to climb back to zero.

use std::collections::HashMap;
use std::sync::Mutex;

use gregor_metadata::quotas::{ClientQuotas, CONTROLLER_MUTATION_RATE};
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::ResponseError;

use super::{resolve, ANONYMOUS_USER, SENSORS_MAX, SENSOR_IDLE_EXPIRY_MS};
use crate::broker::Broker;
use crate::handlers::RequestContext;
use crate::time::now_ms;

/// Kafka's message for THROTTLING_QUOTA_EXCEEDED.
pub const THROTTLING_QUOTA_EXCEEDED: &str = "The throttling quota has been exceeded.";

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last_ms: i64,
}

/// Every client's mutation token buckets. One per broker.
#[derive(Debug)]
pub struct MutationBuckets {
    /// Seconds of quota the bucket holds (`quota.window.num` windows of
    /// `quota.window.size.seconds`).
    burst_seconds: f64,
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

/// What taking tokens came to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Taken {
    /// Taken; the client should wait this long (0: not at all).
    Admitted { throttle_ms: i64 },
    /// Strict mode with the bucket below zero: nothing taken.
    Refused { throttle_ms: i64 },
}

impl MutationBuckets {
    pub fn new(samples: usize, window_ms: i64) -> MutationBuckets {
        MutationBuckets {
            burst_seconds: samples.max(1) as f64 * window_ms.max(1) as f64 / 1000.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `permits` tokens from the client's bucket at `now_ms`.
    pub fn take(
        &self,
        quotas: &ClientQuotas,
        user: &str,
        client_id: &str,
        permits: f64,
        strict: bool,
        now_ms: i64,
    ) -> Taken {
        let Some(quota) = resolve(quotas, CONTROLLER_MUTATION_RATE, user, client_id) else {
            return Taken::Admitted { throttle_ms: 0 };
        };
        let bound = quota.bound;
        let burst = bound * self.burst_seconds;
        let mut buckets = self.buckets.lock().expect("mutation buckets lock");
        if buckets.len() >= SENSORS_MAX {
            buckets.retain(|_, b| now_ms - b.last_ms < SENSOR_IDLE_EXPIRY_MS);
        }
        let bucket = buckets
            .entry((quota.user_tag, quota.client_id_tag))
            .or_insert(Bucket {
                tokens: burst,
                last_ms: now_ms,
            });
        let elapsed_s = (now_ms - bucket.last_ms).max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + bound * elapsed_s).min(burst);
        bucket.last_ms = now_ms;
        // How long until the bucket is back at zero.
        let throttle = |tokens: f64| -> i64 {
            if tokens >= 0.0 {
                0
            } else if bound <= 0.0 {
                // A zero quota never refills: wait out the whole window.
                (self.burst_seconds * 1000.0) as i64
            } else {
                (-tokens / bound * 1000.0).round() as i64
            }
        };
        if strict && bucket.tokens < 0.0 {
            return Taken::Refused {
                throttle_ms: throttle(bucket.tokens),
            };
        }
        bucket.tokens = (bucket.tokens - permits).min(burst);
        Taken::Admitted {
            // A strict taker is told to wait only when refused, as Kafka
            // checks the quota before recording.
            throttle_ms: if strict { 0 } else { throttle(bucket.tokens) },
        }
    }
}

/// One request's view of the quota: strict or permissive by version, and
/// the throttle time its response must carry.
pub struct MutationQuota<'a> {
    broker: &'a Broker,
    client_id: &'a str,
    strict: bool,
    throttle_ms: i64,
}

impl<'a> MutationQuota<'a> {
    /// Strict from `strict_since` (the API's first KIP-599 version) on.
    pub fn new(broker: &'a Broker, ctx: &'a RequestContext, strict_since: i16) -> Self {
        MutationQuota {
            broker,
            client_id: &ctx.client_id,
            strict: ctx.api_version >= strict_since,
            throttle_ms: 0,
        }
    }

    /// Charges `partitions` mutations; Err (THROTTLING_QUOTA_EXCEEDED) when
    /// a strict request finds the quota already used up.
    pub fn take(&mut self, partitions: i32) -> Result<(), ApiError> {
        let image = self.broker.metadata.image();
        if image.client_quotas.is_empty() {
            return Ok(());
        }
        let taken = self.broker.mutation_quotas.take(
            &image.client_quotas,
            ANONYMOUS_USER,
            self.client_id,
            f64::from(partitions.max(0)),
            self.strict,
            now_ms(),
        );
        match taken {
            Taken::Admitted { throttle_ms } => {
                self.throttle_ms = self.throttle_ms.max(throttle_ms);
                Ok(())
            }
            Taken::Refused { throttle_ms } => {
                self.throttle_ms = self.throttle_ms.max(throttle_ms);
                Err(ApiError::new(
                    ResponseError::ThrottlingQuotaExceeded,
                    THROTTLING_QUOTA_EXCEEDED,
                ))
            }
        }
    }

    /// The throttle time for the response's `throttle_time_ms`.
    pub fn throttle_time_ms(&self) -> i32 {
        i32::try_from(self.throttle_ms).unwrap_or(i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use gregor_metadata::quotas::{EntityPart, QuotaValue, CLIENT_ID};

    use super::*;

    fn quota(rate: f64) -> ClientQuotas {
        let mut q = ClientQuotas::default();
        let parts = [EntityPart {
            entity_type: CLIENT_ID.into(),
            entity_name: Some("admin".into()),
        }];
        q.apply(&parts, CONTROLLER_MUTATION_RATE, QuotaValue(rate), false);
        q
    }

    #[test]
    fn strict_requests_are_refused_once_the_bucket_is_below_zero() {
        // 2 partitions per second, 11 windows of 1 s: 22 tokens to start.
        let q = quota(2.0);
        let b = MutationBuckets::new(11, 1000);
        let take =
            |permits: f64, strict: bool, now: i64| b.take(&q, "u", "admin", permits, strict, now);
        assert_eq!(take(20.0, true, 0), Taken::Admitted { throttle_ms: 0 });
        // 2 tokens left: admitted even though it takes the bucket to -8.
        assert_eq!(take(10.0, true, 0), Taken::Admitted { throttle_ms: 0 });
        // Below zero: refused until the bucket is back at zero (4 s at 2/s).
        assert_eq!(take(1.0, true, 0), Taken::Refused { throttle_ms: 4_000 });
        assert_eq!(
            take(1.0, true, 3_000),
            Taken::Refused { throttle_ms: 1_000 }
        );
        assert_eq!(take(1.0, true, 4_000), Taken::Admitted { throttle_ms: 0 });
        // Other clients have no quota here.
        assert_eq!(
            b.take(&q, "u", "other", 1e6, true, 4_000),
            Taken::Admitted { throttle_ms: 0 }
        );
    }

    #[test]
    fn permissive_requests_are_admitted_with_a_throttle_time() {
        let q = quota(2.0);
        let b = MutationBuckets::new(11, 1000);
        // 22 tokens; 30 taken leaves -8: 4 s to climb back to zero.
        assert_eq!(
            b.take(&q, "u", "admin", 30.0, false, 0),
            Taken::Admitted { throttle_ms: 4_000 }
        );
        // The bucket refills at most to its burst after a long pause.
        assert_eq!(
            b.take(&q, "u", "admin", 22.0, false, 1_000_000),
            Taken::Admitted { throttle_ms: 0 }
        );
        assert_eq!(
            b.take(&q, "u", "admin", 1.0, false, 1_000_000),
            Taken::Admitted { throttle_ms: 500 }
        );
    }
}
