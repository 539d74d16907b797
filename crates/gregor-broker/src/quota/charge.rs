//! Charging one handled request to its client's quotas: what is recorded
//! for which API, the throttle time written into the response, and whether
//! the response goes out before the connection is muted (KIP-219 clients)
//! or after (older versions, which expect the broker to delay it).

use std::time::Duration;

use gregor_protocol::kafka_protocol::messages::{ApiKey, ResponseKind};

use super::{QuotaType, ANONYMOUS_USER};
use crate::broker::Broker;
use crate::handlers::{Reply, RequestContext};
use crate::time::now_ms;

/// Produce versions from which the client throttles itself (KIP-219).
const PRODUCE_CLIENT_THROTTLE_MIN_VERSION: i16 = 6;
/// Fetch versions from which the client throttles itself (KIP-219).
const FETCH_CLIENT_THROTTLE_MIN_VERSION: i16 = 8;

/// How a connection must hold back after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub ms: i64,
    /// Send the response first, then stop reading (KIP-219); otherwise the
    /// response itself is delayed.
    pub send_first: bool,
}

/// Records the request against the client's produce, fetch and request
/// quotas, puts the throttle time in the response and returns it.
///
/// `request_bytes` is the request's size (what a produce quota counts);
/// `handling` the time spent handling it. Requests that park while waiting
/// for something else (a fetch's long poll, a join waiting for the group)
/// are not charged for handler time, since that wait is not work done for
/// the client.
pub fn charge(
    broker: &Broker,
    ctx: &RequestContext,
    api_key: ApiKey,
    request_bytes: usize,
    handling: Duration,
    reply: Option<&mut Reply>,
) -> Throttle {
    let image = broker.metadata.image();
    let quotas = &image.client_quotas;
    if quotas.is_empty() {
        return Throttle {
            ms: 0,
            send_first: true,
        };
    }
    let now = now_ms();
    let (user, client) = (ANONYMOUS_USER, ctx.client_id.as_str());
    let manager = &broker.quotas;
    let parked = matches!(
        api_key,
        ApiKey::Fetch | ApiKey::JoinGroup | ApiKey::SyncGroup
    );
    let mut ms = 0;
    if !parked {
        // Kafka counts request time in percent of one second per second.
        let percent = handling.as_secs_f64() * 100.0;
        ms = manager.record(quotas, QuotaType::Request, user, client, percent, now);
    }
    let mut send_first = true;
    match reply {
        None if api_key == ApiKey::Produce => {
            // acks=0: no response, but the bytes still count.
            let bytes = request_bytes as f64;
            ms = ms.max(manager.record(quotas, QuotaType::Produce, user, client, bytes, now));
        }
        Some(Reply::Body(ResponseKind::Produce(response))) => {
            let bytes = request_bytes as f64;
            ms = ms.max(manager.record(quotas, QuotaType::Produce, user, client, bytes, now));
            response.throttle_time_ms = clamp_i32(ms);
            send_first = ctx.api_version >= PRODUCE_CLIENT_THROTTLE_MIN_VERSION;
        }
        Some(Reply::Fetch(fetch)) => {
            let bytes = fetch.record_lens().iter().sum::<usize>() as f64;
            let fetch_ms = manager.record(quotas, QuotaType::Fetch, user, client, bytes, now);
            if fetch_ms > 0 {
                // As Kafka does, a throttled fetch is answered without
                // records, and what was recorded for them is taken back.
                manager.unrecord(quotas, QuotaType::Fetch, user, client, bytes, now);
                fetch.records.iter_mut().for_each(Vec::clear);
            }
            ms = ms.max(fetch_ms);
            fetch.response.throttle_time_ms = clamp_i32(ms);
            send_first = ctx.api_version >= FETCH_CLIENT_THROTTLE_MIN_VERSION;
        }
        // The controller mutation quota already set its throttle time.
        Some(Reply::Body(ResponseKind::CreateTopics(r))) => {
            ms = ms.max(i64::from(r.throttle_time_ms));
            r.throttle_time_ms = clamp_i32(ms);
        }
        Some(Reply::Body(ResponseKind::DeleteTopics(r))) => {
            ms = ms.max(i64::from(r.throttle_time_ms));
            r.throttle_time_ms = clamp_i32(ms);
        }
        Some(Reply::Body(ResponseKind::CreatePartitions(r))) => {
            ms = ms.max(i64::from(r.throttle_time_ms));
            r.throttle_time_ms = clamp_i32(ms);
        }
        Some(Reply::Body(ResponseKind::DescribeClientQuotas(r))) => {
            r.throttle_time_ms = clamp_i32(ms)
        }
        Some(Reply::Body(ResponseKind::AlterClientQuotas(r))) => r.throttle_time_ms = clamp_i32(ms),
        // Other responses go out unchanged; the connection is still muted.
        _ => {}
    }
    Throttle { ms, send_first }
}

/// The response size a fetch of this client may not exceed under its
/// consumer byte rate, if it has one.
pub fn fetch_bytes_cap(broker: &Broker, ctx: &RequestContext) -> Option<i32> {
    let image = broker.metadata.image();
    let quota = super::resolve(
        &image.client_quotas,
        QuotaType::Fetch.key(),
        ANONYMOUS_USER,
        &ctx.client_id,
    )?;
    let cap = broker.quotas.max_value_in_window(quota.bound);
    Some(cap.clamp(1.0, f64::from(i32::MAX)) as i32)
}

fn clamp_i32(ms: i64) -> i32 {
    i32::try_from(ms).unwrap_or(i32::MAX)
}
