//! Client quota enforcement, as Kafka's `ClientQuotaManager` (produce and
//! fetch byte rates), `ClientRequestQuotaManager` (request percentage) and
//! `ControllerMutationQuotaManager` (`controller_mutation_rate`, in
//! `mutation.rs`) do it.
//!
//! Each request is recorded against a sensor keyed by the quota's metric
//! tags (user, client-id), which the matched quota entity decides: a
//! client-id quota is shared by every user with that client id, a user
//! quota by every client of that user. When the sensor's windowed rate
//! goes over the quota, the throttle time is how long the client must stay
//! quiet for the rate to fall back to the quota; the response carries it in
//! `throttle_time_ms` and the connection stops reading for that long
//! (KIP-219). Sensors idle for an hour are dropped.
//!
//! Owned by the `Broker`; called from connection tasks after each request.

mod charge;
mod mutation;
mod rate;

use std::collections::HashMap;
use std::sync::Mutex;

use gregor_metadata::quotas::{
    ClientQuotas, QuotaEntity, CLIENT_ID, CONSUMER_BYTE_RATE, PRODUCER_BYTE_RATE,
    REQUEST_PERCENTAGE, USER,
};

pub use charge::{charge, fetch_bytes_cap, Throttle};
pub use mutation::{MutationBuckets, MutationQuota, Taken, THROTTLING_QUOTA_EXCEEDED};
pub use rate::{throttle_time_ms, WindowedRate};

/// Sensors not recorded to for this long are dropped, as Kafka expires
/// quota sensors after an hour of inactivity.
const SENSOR_IDLE_EXPIRY_MS: i64 = 3_600_000;
/// Upper bound on live sensors; beyond it the idle ones are purged early.
const SENSORS_MAX: usize = 100_000;

/// The principal of every connection until authentication exists.
pub const ANONYMOUS_USER: &str = "ANONYMOUS";

/// What a recording counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaType {
    /// Bytes of produce requests (`producer_byte_rate`).
    Produce,
    /// Bytes of fetch responses (`consumer_byte_rate`).
    Fetch,
    /// Request handling time in percent of one second (`request_percentage`).
    Request,
}

impl QuotaType {
    pub fn key(self) -> &'static str {
        match self {
            QuotaType::Produce => PRODUCER_BYTE_RATE,
            QuotaType::Fetch => CONSUMER_BYTE_RATE,
            QuotaType::Request => REQUEST_PERCENTAGE,
        }
    }
}

/// The quota that applies to a client, and the tags of its sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedQuota {
    pub user_tag: String,
    pub client_id_tag: String,
    pub bound: f64,
}

/// Finds the quota `key` for (user, client id) in Kafka's precedence:
/// user+client-id, user+default client-id, user, default user+client-id,
/// default user+default client-id, default user, client-id, default
/// client-id. `None`: the client is unlimited.
pub fn resolve(
    quotas: &ClientQuotas,
    key: &str,
    user: &str,
    client_id: &str,
) -> Option<ResolvedQuota> {
    let entity = |u: Option<Option<&str>>, c: Option<Option<&str>>| {
        let mut e = QuotaEntity::new();
        if let Some(u) = u {
            e.insert(USER.to_string(), u.map(str::to_string));
        }
        if let Some(c) = c {
            e.insert(CLIENT_ID.to_string(), c.map(str::to_string));
        }
        e
    };
    let (u, c) = (Some(user), Some(client_id));
    // (entity, whether the sensor is per user, per client id)
    let candidates = [
        (entity(Some(u), Some(c)), true, true),
        (entity(Some(u), Some(None)), true, true),
        (entity(Some(u), None), true, false),
        (entity(Some(None), Some(c)), true, true),
        (entity(Some(None), Some(None)), true, true),
        (entity(Some(None), None), true, false),
        (entity(None, Some(c)), false, true),
        (entity(None, Some(None)), false, true),
    ];
    candidates.iter().find_map(|(e, per_user, per_client)| {
        let bound = quotas.get(e)?.get(key)?.0;
        Some(ResolvedQuota {
            user_tag: if *per_user {
                user.to_string()
            } else {
                String::new()
            },
            client_id_tag: if *per_client {
                client_id.to_string()
            } else {
                String::new()
            },
            bound,
        })
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SensorKey {
    kind: QuotaType,
    user: String,
    client_id: String,
}

#[derive(Debug)]
struct Sensor {
    rate: WindowedRate,
    last_record_ms: i64,
}

/// Every client's quota sensors. One per broker.
#[derive(Debug)]
pub struct QuotaManager {
    samples: usize,
    window_ms: i64,
    sensors: Mutex<HashMap<SensorKey, Sensor>>,
}

impl QuotaManager {
    /// `samples` windows of `window_ms` each (`quota.window.num`,
    /// `quota.window.size.seconds`).
    pub fn new(samples: usize, window_ms: i64) -> QuotaManager {
        QuotaManager {
            samples: samples.max(1),
            window_ms: window_ms.max(1),
            sensors: Mutex::new(HashMap::new()),
        }
    }

    /// Records `value` for the client and returns how long it must be
    /// throttled, in milliseconds (0 when within its quota or unlimited).
    /// The request-percentage throttle is bounded by one window, as in
    /// Kafka; byte-rate throttles are not.
    pub fn record(
        &self,
        quotas: &ClientQuotas,
        kind: QuotaType,
        user: &str,
        client_id: &str,
        value: f64,
        now_ms: i64,
    ) -> i64 {
        let Some(quota) = resolve(quotas, kind.key(), user, client_id) else {
            return 0;
        };
        let mut sensors = self.sensors.lock().expect("quota sensors lock");
        if sensors.len() >= SENSORS_MAX {
            sensors.retain(|_, s| now_ms - s.last_record_ms < SENSOR_IDLE_EXPIRY_MS);
        }
        let key = SensorKey {
            kind,
            user: quota.user_tag,
            client_id: quota.client_id_tag,
        };
        let sensor = sensors.entry(key).or_insert_with(|| Sensor {
            rate: WindowedRate::new(self.samples, self.window_ms, now_ms),
            last_record_ms: now_ms,
        });
        sensor.rate.record(value, now_ms);
        sensor.last_record_ms = now_ms;
        let observed = sensor.rate.measure(now_ms);
        if quota.bound <= 0.0 || observed <= quota.bound {
            // A zero quota cannot be divided by; Kafka would throttle for an
            // infinite time, which we bound to the whole window instead.
            if quota.bound <= 0.0 && value > 0.0 {
                return self.window_ms * self.samples as i64;
            }
            return 0;
        }
        let throttle = throttle_time_ms(observed, quota.bound, sensor.rate.window_size_ms(now_ms));
        match kind {
            QuotaType::Request => throttle.min(self.window_ms),
            QuotaType::Produce | QuotaType::Fetch => throttle,
        }
        .max(0)
    }

    /// Takes back a recording whose response was not sent (a throttled
    /// fetch answers empty), without a quota check.
    pub fn unrecord(
        &self,
        quotas: &ClientQuotas,
        kind: QuotaType,
        user: &str,
        client_id: &str,
        value: f64,
        now_ms: i64,
    ) {
        let Some(quota) = resolve(quotas, kind.key(), user, client_id) else {
            return;
        };
        let key = SensorKey {
            kind,
            user: quota.user_tag,
            client_id: quota.client_id_tag,
        };
        let mut sensors = self.sensors.lock().expect("quota sensors lock");
        if let Some(sensor) = sensors.get_mut(&key) {
            sensor.rate.record(-value, now_ms);
        }
    }

    /// The most a client may take within the measuring window at `bound`
    /// per second (Kafka's `getMaxValueInQuotaWindow`): a fetch is capped
    /// to it, so one response can always fit under the quota.
    pub fn max_value_in_window(&self, bound: f64) -> f64 {
        let windows = self.samples.saturating_sub(1).max(1) as f64;
        bound * windows * self.window_ms as f64 / 1000.0
    }

    /// Drops sensors no request has touched for an hour.
    pub fn expire_idle(&self, now_ms: i64) {
        let mut sensors = self.sensors.lock().expect("quota sensors lock");
        sensors.retain(|_, s| now_ms - s.last_record_ms < SENSOR_IDLE_EXPIRY_MS);
    }

    pub fn sensor_count(&self) -> usize {
        self.sensors.lock().expect("quota sensors lock").len()
    }
}

#[cfg(test)]
mod tests {
    use gregor_metadata::quotas::{EntityPart, QuotaValue};

    use super::*;

    /// One configured level: the user part, the client-id part (absent,
    /// default or named) and the producer byte rate.
    type Level<'a> = (Option<Option<&'a str>>, Option<Option<&'a str>>, f64);

    fn quotas(entries: &[Level<'_>]) -> ClientQuotas {
        let mut q = ClientQuotas::default();
        for (user, client, value) in entries {
            let mut parts = Vec::new();
            if let Some(u) = user {
                parts.push(EntityPart {
                    entity_type: USER.into(),
                    entity_name: u.map(str::to_string),
                });
            }
            if let Some(c) = client {
                parts.push(EntityPart {
                    entity_type: CLIENT_ID.into(),
                    entity_name: c.map(str::to_string),
                });
            }
            q.apply(&parts, PRODUCER_BYTE_RATE, QuotaValue(*value), false);
        }
        q
    }

    fn bound(q: &ClientQuotas, user: &str, client: &str) -> Option<(f64, String, String)> {
        resolve(q, PRODUCER_BYTE_RATE, user, client).map(|r| (r.bound, r.user_tag, r.client_id_tag))
    }

    #[test]
    fn resolution_follows_kafkas_precedence() {
        let levels = [
            (Some(Some("alice")), Some(Some("app")), 1.0),
            (Some(Some("alice")), Some(None), 2.0),
            (Some(Some("alice")), None, 3.0),
            (Some(None), Some(Some("app")), 4.0),
            (Some(None), Some(None), 5.0),
            (Some(None), None, 6.0),
            (None, Some(Some("app")), 7.0),
            (None, Some(None), 8.0),
        ];
        // Remove the most specific level one at a time: the next one wins.
        for i in 0..levels.len() {
            let q = quotas(&levels[i..]);
            let (b, _, _) = bound(&q, "alice", "app").unwrap();
            assert_eq!(b, levels[i].2, "with levels {i}.. configured");
        }
        assert_eq!(bound(&ClientQuotas::default(), "alice", "app"), None);
        // Other users and clients are not caught by named entities.
        let q = quotas(&[
            (Some(Some("alice")), None, 3.0),
            (None, Some(Some("app")), 7.0),
        ]);
        assert_eq!(bound(&q, "bob", "other"), None);
        assert_eq!(
            bound(&q, "bob", "app"),
            Some((7.0, String::new(), "app".into()))
        );
    }

    #[test]
    fn sensors_are_shared_as_the_matched_entity_says() {
        // A user quota is per user; a default client-id quota is per client id.
        let q = quotas(&[(Some(Some("alice")), None, 3.0), (None, Some(None), 8.0)]);
        assert_eq!(
            bound(&q, "alice", "x"),
            Some((3.0, "alice".into(), String::new()))
        );
        assert_eq!(
            bound(&q, "bob", "x"),
            Some((8.0, String::new(), "x".into()))
        );
    }

    #[test]
    fn over_quota_clients_are_throttled_and_others_are_not() {
        let q = quotas(&[(None, Some(Some("slow")), 1000.0)]);
        let m = QuotaManager::new(11, 1000);
        // 10 000 bytes at once: measured over 10 s that is 1000 B/s, at the quota.
        assert_eq!(
            m.record(&q, QuotaType::Produce, "u", "slow", 10_000.0, 0),
            0
        );
        // 10 000 more: 2000 B/s, twice the quota: 10 s of silence.
        assert_eq!(
            m.record(&q, QuotaType::Produce, "u", "slow", 10_000.0, 0),
            10_000
        );
        assert_eq!(m.record(&q, QuotaType::Produce, "u", "fast", 1e9, 0), 0);
        assert_eq!(m.sensor_count(), 1);
        m.unrecord(&q, QuotaType::Produce, "u", "slow", 10_000.0, 0);
        assert_eq!(m.record(&q, QuotaType::Produce, "u", "slow", 0.0, 0), 0);
        m.expire_idle(SENSOR_IDLE_EXPIRY_MS);
        assert_eq!(m.sensor_count(), 0);
    }

    #[test]
    fn request_throttle_is_bounded_by_one_window() {
        let mut q = ClientQuotas::default();
        let parts = [EntityPart {
            entity_type: CLIENT_ID.into(),
            entity_name: None,
        }];
        q.apply(&parts, REQUEST_PERCENTAGE, QuotaValue(1.0), false);
        let m = QuotaManager::new(11, 1000);
        // A full second of handler time against a 1% quota.
        assert_eq!(m.record(&q, QuotaType::Request, "u", "c", 100.0, 0), 1000);
    }
}
