//! Malformed and unexpected input on the wire. The broker must answer or
//! close each bad connection within a deadline (never hang it, never crash),
//! answer ApiVersions with an unsupported version using the v0 fallback
//! (UNSUPPORTED_VERSION plus its API list, correlation id intact), and keep
//! serving ordinary clients on new connections afterwards.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use gregor_testkit::{
    api_versions_v0_request, parse_api_versions_response, request_frame, BrokerProcess, RawConn,
    ReadOutcome,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How long the broker may take to answer or close a bad connection.
const VERDICT_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const UNSUPPORTED_VERSION: i16 = 35;
const API_VERSIONS: i16 = 18;

fn connect(b: &BrokerProcess) -> RawConn {
    RawConn::connect(&b.bootstrap(), CONNECT_TIMEOUT).expect("connect")
}

/// The broker is alive and a real client on new connections still works.
fn assert_still_serving(b: &mut BrokerProcess, after: &str) {
    assert!(b.is_running(), "broker process exited after {after}");
    let topic = format!(
        "alive-after-{}",
        after.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    assert_produce_consume_works(&b.bootstrap(), &topic);
    assert!(b.is_running(), "broker process exited after {after}");
}

/// A bad request must be either answered (a frame whose correlation id is the
/// request's) or the connection closed; silence past the deadline fails.
fn assert_answered_or_closed(c: &mut RawConn, correlation_id: i32, what: &str) {
    match c.read_frame(VERDICT_TIMEOUT).expect("read") {
        ReadOutcome::Frame(f) => assert_eq!(
            f.get(..4),
            Some(&correlation_id.to_be_bytes()[..]),
            "{what}: answered with a frame whose correlation id is not the request's"
        ),
        ReadOutcome::Closed { .. } => {}
        ReadOutcome::TimedOut { partial } => panic!(
            "{what}: neither answered nor closed within {VERDICT_TIMEOUT:?} ({partial} bytes of a frame)"
        ),
    }
}

fn seed() -> u64 {
    match std::env::var("GREGOR_TEST_SEED") {
        Ok(s) => s.parse().expect("GREGOR_TEST_SEED must be a u64"),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

#[test]
fn random_bytes_then_eof_close_the_connection() {
    let mut b = start_broker();
    let seed = seed();
    eprintln!("random_bytes seed: {seed} (rerun with GREGOR_TEST_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    for round in 0..20 {
        let len = rng.random_range(1..8192);
        let mut buf = vec![0u8; len];
        rng.fill(&mut buf[..]);
        let mut c = connect(&b);
        // The broker may already have closed on a bad prefix: a failed write
        // is fine, silence is not.
        let _ = c.send(&buf);
        let _ = c.shutdown_write();
        assert!(
            c.wait_closed(VERDICT_TIMEOUT).expect("read"),
            "round {round} (seed {seed}, {len} random bytes then EOF): connection not closed within {VERDICT_TIMEOUT:?}"
        );
    }
    assert_still_serving(&mut b, "random bytes");
}

#[test]
fn well_framed_random_payloads_are_answered_or_closed() {
    let mut b = start_broker();
    let seed = seed();
    eprintln!("framed random seed: {seed} (rerun with GREGOR_TEST_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    for round in 0..20 {
        let len = rng.random_range(0..2048usize);
        let mut frame = (len as i32).to_be_bytes().to_vec();
        let mut body = vec![0u8; len];
        rng.fill(&mut body[..]);
        frame.extend_from_slice(&body);
        let mut c = connect(&b);
        let _ = c.send(&frame);
        // Whatever the header says, this is a whole frame: the broker has
        // all it needs to decide.
        match c.read_frame(VERDICT_TIMEOUT).expect("read") {
            ReadOutcome::Frame(_) | ReadOutcome::Closed { .. } => {}
            ReadOutcome::TimedOut { .. } => panic!(
                "round {round} (seed {seed}): framed garbage of {len} bytes neither answered nor closed"
            ),
        }
    }
    assert_still_serving(&mut b, "framed random payloads");
}

#[test]
fn huge_and_negative_length_prefixes_close_the_connection() {
    let mut b = start_broker();
    for prefix in [0x7fff_ffffu32, 0x8000_0000, 0xffff_ffff, 200 * 1024 * 1024] {
        let mut c = connect(&b);
        let mut bytes = prefix.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0, 18, 0, 0, 0, 0, 0, 1]);
        let _ = c.send(&bytes);
        // The connection stays open from our side: the broker must reject the
        // size on sight (above socket.request.max.bytes, or negative), not
        // wait for 2 GiB that will never come.
        assert!(
            c.wait_closed(VERDICT_TIMEOUT).expect("read"),
            "length prefix {prefix:#010x}: connection not closed within {VERDICT_TIMEOUT:?}"
        );
    }
    assert_still_serving(&mut b, "huge length prefix");
}

#[test]
fn truncated_frame_then_close_leaves_broker_serving() {
    let mut b = start_broker();
    for cut in [1usize, 3, 4, 10, 20] {
        let mut frame = api_versions_v0_request(1);
        // Claim a longer body than is sent, then hang up mid-frame.
        frame[..4].copy_from_slice(&100i32.to_be_bytes());
        let mut c = connect(&b);
        c.send(&frame[..cut.min(frame.len())]).expect("send");
        drop(c);
    }
    assert_still_serving(&mut b, "truncated frames");
}

#[test]
fn unknown_api_key_is_answered_or_closed() {
    let mut b = start_broker();
    let mut c = connect(&b);
    c.send(&request_frame(
        999,
        0,
        4242,
        Some("garbage-test"),
        false,
        &[1, 2, 3],
    ))
    .expect("send");
    assert_answered_or_closed(&mut c, 4242, "api key 999");
    assert_still_serving(&mut b, "unknown api key");
}

#[test]
fn produce_v99_is_answered_or_closed() {
    let mut b = start_broker();
    let mut c = connect(&b);
    c.send(&request_frame(
        0,
        99,
        777,
        Some("garbage-test"),
        true,
        &[0; 16],
    ))
    .expect("send");
    assert_answered_or_closed(&mut c, 777, "Produce v99");
    assert_still_serving(&mut b, "produce v99");
}

#[test]
fn api_versions_v99_gets_v0_fallback_with_unsupported_version() {
    let mut b = start_broker();
    let mut c = connect(&b);
    // ApiVersions v3+ requests carry a flexible (v2) header and a body of
    // client software name/version; v99 is what a future client would send.
    let body = [0x07, b'f', b'u', b't', b'u', b'r', b'e', 0x02, b'9', 0x00];
    c.send(&request_frame(
        API_VERSIONS,
        99,
        0x1234_5678,
        Some("future-client"),
        true,
        &body,
    ))
    .expect("send");
    let frame = match c.read_frame(VERDICT_TIMEOUT).expect("read") {
        ReadOutcome::Frame(f) => f,
        other => panic!("ApiVersions v99 must be answered, got {other:?}"),
    };
    let r = parse_api_versions_response(&frame).expect("v0 layout");
    assert_eq!(r.correlation_id, 0x1234_5678, "correlation id");
    assert_eq!(r.error_code, UNSUPPORTED_VERSION, "error code");
    let (lo, hi) = r.range(API_VERSIONS).expect("ApiVersions in the API list");
    assert!(lo == 0 && hi >= 3, "ApiVersions range {lo}..{hi}");
    for key in [0i16, 1, 2, 3] {
        assert!(
            r.range(key).is_some(),
            "api key {key} missing from fallback list {:?}",
            r.api_keys
        );
    }

    // The connection stays usable: the client retries with a version the
    // broker listed, on the same socket.
    c.send(&api_versions_v0_request(99))
        .expect("send v0 after fallback");
    match c.read_frame(VERDICT_TIMEOUT).expect("read") {
        ReadOutcome::Frame(f) => {
            let r = parse_api_versions_response(&f).expect("v0 response");
            assert_eq!((r.correlation_id, r.error_code), (99, 0));
        }
        other => panic!("ApiVersions v0 after the fallback: {other:?}"),
    }
    assert_still_serving(&mut b, "api versions v99");
}

#[test]
fn api_versions_v0_lists_core_apis() {
    let b = start_broker();
    let mut c = connect(&b);
    c.send(&api_versions_v0_request(5)).expect("send");
    let ReadOutcome::Frame(f) = c.read_frame(VERDICT_TIMEOUT).expect("read") else {
        panic!("no ApiVersions v0 answer");
    };
    let r = parse_api_versions_response(&f).expect("v0 layout");
    assert_eq!((r.correlation_id, r.error_code), (5, 0));
    for (key, min_max) in [(0i16, 3), (1, 4), (2, 1), (3, 1), (18, 3)] {
        let (lo, hi) = r
            .range(key)
            .unwrap_or_else(|| panic!("api key {key} not advertised"));
        assert!(
            lo <= hi && hi >= min_max,
            "api key {key}: {lo}..{hi}, librdkafka needs >= v{min_max}"
        );
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let b = start_broker();
    let mut c = connect(&b);
    let mut bytes = Vec::new();
    for id in 100..110 {
        bytes.extend_from_slice(&api_versions_v0_request(id));
    }
    c.send(&bytes).expect("send");
    for id in 100..110 {
        match c.read_frame(VERDICT_TIMEOUT).expect("read") {
            ReadOutcome::Frame(f) => assert_eq!(f.get(..4), Some(&i32::to_be_bytes(id)[..])),
            other => panic!("response {id}: {other:?}"),
        }
    }
}

/// DescribeAcls on a broker without `authorizer.class.name` gets Kafka's
/// answer, SECURITY_DISABLED, and the connection stays usable for the next
/// request.
#[test]
fn describe_acls_without_authorizer_is_answered_security_disabled() {
    let mut b = start_broker();
    let mut c = connect(&b);
    // DescribeAcls v1: resource type ANY, name null, pattern ANY, principal
    // null, host null, operation ANY, permission ANY.
    let body = [1u8, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff, 1, 1];
    c.send(&request_frame(
        29,
        1,
        5150,
        Some("garbage-test"),
        false,
        &body,
    ))
    .expect("send");
    let frame = match c.read_frame(Duration::from_secs(10)).expect("read") {
        ReadOutcome::Frame(f) => f,
        other => panic!("DescribeAcls was not answered: {other:?}"),
    };
    assert_eq!(i32::from_be_bytes(frame[0..4].try_into().unwrap()), 5150);
    // After the correlation id: throttle_time_ms (4 bytes), then error_code.
    let error_code = i16::from_be_bytes(frame[8..10].try_into().unwrap());
    assert_eq!(error_code, 54, "SECURITY_DISABLED");
    c.send(&api_versions_v0_request(5151)).expect("send");
    match c.read_frame(Duration::from_secs(10)).expect("read") {
        ReadOutcome::Frame(f) => assert_eq!(i32::from_be_bytes(f[0..4].try_into().unwrap()), 5151),
        other => panic!("connection unusable after DescribeAcls: {other:?}"),
    }
    assert_still_serving(&mut b, "describe acls");
}
