//! Limits on client connections, as Kafka's `ConnectionQuotas` applies
//! them when a connection is accepted:
//!
//! - `max.connections`: while the broker holds that many connections, the
//!   listener stops accepting until one closes; with several listeners the
//!   inter-broker one is exempt, as in Kafka.
//!   `listener.name.<l>.max.connections` does the same per listener.
//! - `max.connection.creation.rate` (and
//!   `listener.name.<l>.max.connection.creation.rate`): accepting slows
//!   down to that many new connections per second (the listener waits out
//!   the throttle time).
//! - `max.connections.per.ip` and `max.connections.per.ip.overrides`
//!   (`host:count,...`, names resolved once per config value): a
//!   connection beyond its address's limit is closed at once.
//! - the `connection_creation_rate` client quota of the `ip` entity (or the
//!   default ip): a connection over it is held, unserved and not counted,
//!   for the throttle time (at most one quota window), then closed.
//!
//! The limits are broker configs (dynamic, cluster-wide), read at each
//! accept, and client quotas from the metadata image.

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use gregor_metadata::quotas::{QuotaEntity, CONNECTION_CREATION_RATE, IP};
use tokio::sync::Notify;

use crate::broker::Broker;
use crate::quota::{throttle_time_ms, WindowedRate};
use crate::time::now_ms;

/// Rate sensors of addresses that have not connected for this long are dropped.
const IP_SENSOR_IDLE_EXPIRY_MS: i64 = 3_600_000;

/// What to do with a connection just accepted.
#[derive(Debug)]
pub enum Admission {
    /// Serve it; it holds its place in the counts until the slot drops.
    Serve(ConnectionSlot),
    /// Close it now: its address has `max` connections already.
    TooManyFromAddress { max: i64 },
    /// Hold it unserved for this long, then close it (ip connection rate).
    Throttled { ms: i64 },
}

#[derive(Debug, Default)]
struct Counts {
    total: i64,
    per_ip: HashMap<IpAddr, i64>,
    per_listener: HashMap<Arc<str>, i64>,
}

#[derive(Debug)]
struct IpSensor {
    rate: WindowedRate,
    last_ms: i64,
}

/// The broker's connection counts and connection-rate sensors.
#[derive(Debug)]
pub struct ConnectionQuotas {
    samples: usize,
    window_ms: i64,
    counts: Mutex<Counts>,
    slot_freed: Notify,
    /// Accept-rate sensors: broker-wide (key "") and per listener.
    accept_rates: Mutex<HashMap<Arc<str>, WindowedRate>>,
    /// `max.connections.per.ip.overrides` as last read, and what it
    /// resolved to: names are resolved once per config value, not per accept.
    overrides: Mutex<(String, Vec<(IpAddr, i64)>)>,
    ip_rates: Mutex<HashMap<IpAddr, IpSensor>>,
}

/// A served connection's place in the counts; freed on drop.
#[derive(Debug)]
pub struct ConnectionSlot {
    quotas: Arc<ConnectionQuotas>,
    ip: IpAddr,
    listener: Arc<str>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        {
            let mut counts = self.quotas.counts.lock().expect("connection counts lock");
            counts.total -= 1;
            if let Some(n) = counts.per_ip.get_mut(&self.ip) {
                *n -= 1;
                if *n <= 0 {
                    counts.per_ip.remove(&self.ip);
                }
            }
            if let Some(n) = counts.per_listener.get_mut(&self.listener) {
                *n -= 1;
            }
        }
        self.quotas.slot_freed.notify_waiters();
    }
}

/// An integer broker config, or `i64::MAX` when unset or unparsable.
fn limit(broker: &Broker, key: &str) -> i64 {
    broker
        .config
        .value(key)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(i64::MAX)
}

/// A listener's own form of a broker config, as Kafka names it
/// (`listener.name.<lower-case listener>.<key>`).
fn listener_key(listener: &str, key: &str) -> String {
    format!("listener.name.{}.{key}", listener.to_ascii_lowercase())
}

/// `max.connections.per.ip.overrides`: `host:count` pairs, a host being an
/// address or a name, resolved here to the addresses it stands for.
/// Malformed pairs and names that do not resolve are skipped (the config was
/// validated when set).
fn parse_overrides(overrides: &str) -> Vec<(IpAddr, i64)> {
    let mut out = Vec::new();
    for pair in overrides.split(',') {
        let Some((host, count)) = pair.trim().rsplit_once(':') else {
            continue;
        };
        let Ok(count) = count.trim().parse::<i64>() else {
            continue;
        };
        let host = host.trim();
        match host.parse::<IpAddr>() {
            Ok(addr) => out.push((addr, count)),
            Err(_) => {
                if let Ok(addrs) = (host, 0).to_socket_addrs() {
                    out.extend(addrs.map(|a| (a.ip(), count)));
                }
            }
        }
    }
    out
}

impl ConnectionQuotas {
    /// `samples` windows of `window_ms` (`quota.window.num`,
    /// `quota.window.size.seconds`) for the rate sensors.
    pub fn new(samples: usize, window_ms: i64) -> ConnectionQuotas {
        ConnectionQuotas {
            samples: samples.max(1),
            window_ms: window_ms.max(1),
            counts: Mutex::new(Counts::default()),
            slot_freed: Notify::new(),
            accept_rates: Mutex::new(HashMap::new()),
            overrides: Mutex::new((String::new(), Vec::new())),
            ip_rates: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until `listener` may take another connection: under its own
    /// `listener.name.<l>.max.connections`, and under `max.connections`
    /// unless it is the protected inter-broker listener.
    pub async fn wait_for_slot(&self, broker: &Broker, listener: &str) {
        let own_key = listener_key(listener, "max.connections");
        // Kafka exempts the inter-broker listener from the broker-wide
        // limit when there is more than one listener.
        let protected = broker.config.listeners.len() > 1
            && broker
                .config
                .inter_broker_listener_name
                .eq_ignore_ascii_case(listener);
        loop {
            // Registered before the count is read, so a slot freed in
            // between still wakes us.
            let mut freed = std::pin::pin!(self.slot_freed.notified());
            freed.as_mut().enable();
            let (total, own) = {
                let counts = self.counts.lock().expect("connection counts lock");
                (
                    counts.total,
                    counts.per_listener.get(listener).copied().unwrap_or(0),
                )
            };
            let total_ok = protected || total < limit(broker, "max.connections");
            if total_ok && own < limit(broker, &own_key) {
                return;
            }
            freed.await;
        }
    }

    /// How long `listener` must wait before serving the connection just
    /// accepted, for `max.connection.creation.rate` and the listener's own
    /// rate (0: not at all).
    pub fn accept_rate_throttle_ms(&self, broker: &Broker, listener: &str) -> i64 {
        let limits = [
            ("", limit(broker, "max.connection.creation.rate")),
            (
                listener,
                limit(
                    broker,
                    &listener_key(listener, "max.connection.creation.rate"),
                ),
            ),
        ];
        let now = now_ms();
        let mut rates = self.accept_rates.lock().expect("connection rate lock");
        let mut throttle = 0;
        for (key, bound) in limits {
            if bound == i64::MAX {
                rates.remove(key);
                continue;
            }
            let sensor = rates
                .entry(Arc::from(key))
                .or_insert_with(|| WindowedRate::new(self.samples, self.window_ms, now));
            sensor.record(1.0, now);
            throttle = throttle.max(self.over(sensor, bound as f64, now));
        }
        throttle
    }

    /// Decides what happens to a connection from `ip` just accepted on
    /// `listener`.
    pub fn admit(self: &Arc<Self>, broker: &Broker, listener: &Arc<str>, ip: IpAddr) -> Admission {
        let max_for_ip = self
            .per_ip_override(broker, ip)
            .unwrap_or_else(|| limit(broker, "max.connections.per.ip"));
        let throttle = self.ip_rate_throttle_ms(broker, ip);
        if throttle > 0 {
            return Admission::Throttled { ms: throttle };
        }
        let mut counts = self.counts.lock().expect("connection counts lock");
        let from_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= max_for_ip {
            return Admission::TooManyFromAddress { max: max_for_ip };
        }
        counts.total += 1;
        counts.per_ip.insert(ip, from_ip + 1);
        *counts.per_listener.entry(listener.clone()).or_insert(0) += 1;
        Admission::Serve(ConnectionSlot {
            quotas: self.clone(),
            ip,
            listener: listener.clone(),
        })
    }

    /// The `max.connections.per.ip.overrides` entry for `ip`, if any.
    fn per_ip_override(&self, broker: &Broker, ip: IpAddr) -> Option<i64> {
        let current = broker
            .config
            .value("max.connections.per.ip.overrides")
            .unwrap_or_default();
        let mut cached = self.overrides.lock().expect("connection overrides lock");
        if cached.0 != current {
            *cached = (current.clone(), parse_overrides(&current));
        }
        cached
            .1
            .iter()
            .find(|(addr, _)| *addr == ip)
            .map(|&(_, n)| n)
    }

    /// The `connection_creation_rate` quota of `ip`: records the
    /// connection and returns the throttle time when it goes over, taking
    /// the recording back (a throttled connection does not count).
    fn ip_rate_throttle_ms(&self, broker: &Broker, ip: IpAddr) -> i64 {
        let image = broker.metadata.image();
        let quotas = &image.client_quotas;
        if quotas.is_empty() {
            return 0;
        }
        let entity = |name: Option<String>| -> QuotaEntity {
            std::iter::once((IP.to_string(), name)).collect()
        };
        let bound = [entity(Some(ip.to_string())), entity(None)]
            .iter()
            .find_map(|e| quotas.get(e)?.get(CONNECTION_CREATION_RATE).map(|v| v.0));
        let Some(bound) = bound else {
            return 0;
        };
        let now = now_ms();
        let mut rates = self.ip_rates.lock().expect("connection rate lock");
        rates.retain(|_, s| now - s.last_ms < IP_SENSOR_IDLE_EXPIRY_MS);
        let sensor = rates.entry(ip).or_insert_with(|| IpSensor {
            rate: WindowedRate::new(self.samples, self.window_ms, now),
            last_ms: now,
        });
        sensor.last_ms = now;
        sensor.rate.record(1.0, now);
        let throttle = self.over(&mut sensor.rate, bound, now);
        if throttle > 0 {
            sensor.rate.record(-1.0, now);
        }
        throttle
    }

    /// The throttle time of a rate sensor against `bound` per second,
    /// bounded by one quota window as Kafka bounds connection throttles.
    fn over(&self, rate: &mut WindowedRate, bound: f64, now: i64) -> i64 {
        let observed = rate.measure(now);
        if observed <= bound {
            return 0;
        }
        if bound <= 0.0 {
            return self.window_ms;
        }
        throttle_time_ms(observed, bound, rate.window_size_ms(now)).clamp(1, self.window_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_name_addresses_and_hosts() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let for_ip = |overrides: &str| {
            parse_overrides(overrides)
                .into_iter()
                .find(|(a, _)| *a == ip)
                .map(|(_, n)| n)
        };
        assert_eq!(for_ip("10.0.0.1:5,127.0.0.1:2"), Some(2));
        assert_eq!(for_ip("localhost:3"), Some(3));
        assert_eq!(for_ip("10.0.0.1:5"), None);
        assert_eq!(for_ip(""), None);
        assert_eq!(for_ip("garbage"), None);
    }
}
