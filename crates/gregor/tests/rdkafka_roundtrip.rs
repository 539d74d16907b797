//! librdkafka (through the `rdkafka` crate) produces records with every kind
//! of key/value/header shape under each compression codec; an assigned
//! consumer must read back exactly those records at dense offsets from 0,
//! with their timestamps.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage, Timestamp};
use rdkafka::producer::FutureRecord;

/// An explicit CreateTime used for some records (2023-11-14T22:13:20Z).
const FIXED_TS_MS: i64 = 1_700_000_000_000;

#[derive(Debug, Clone, PartialEq)]
struct Rec {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: HeaderList,
    ts: Option<i64>,
}

fn rec(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[(&str, Option<&[u8]>)]) -> Rec {
    Rec {
        key: key.map(<[u8]>::to_vec),
        value: value.map(<[u8]>::to_vec),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(<[u8]>::to_vec)))
            .collect(),
        ts: None,
    }
}

/// The records every codec round-trips: the awkward shapes first, then a run
/// of ordinary ones so that batches hold many records.
fn sample_records() -> Vec<Rec> {
    let mut v = vec![
        rec(
            Some(b"k0"),
            Some(b"v0"),
            &[
                ("h", Some(b"a")),
                ("h", Some(b"b")),
                ("nul", None),
                ("empty", Some(b"")),
            ],
        ),
        rec(None, Some(b"null key"), &[]),
        rec(Some(b"tombstone"), None, &[]),
        rec(Some(b""), Some(b""), &[]),
        rec(None, None, &[("only-header", Some(b"x"))]),
        rec(
            Some("ключ-ü".as_bytes()),
            Some(&[0u8, 255, 1, 254, 0]),
            &[("bin", Some(&[0u8, 0, 0]))],
        ),
    ];
    // A large, compressible value.
    let big: Vec<u8> = (0..200_000u32)
        .map(|i| b"abcdefghij"[(i % 10) as usize])
        .collect();
    v.push(rec(Some(b"big"), Some(&big), &[]));
    for i in 0..300u32 {
        let mut r = rec(
            Some(format!("key-{}", i % 7).as_bytes()),
            Some(format!("value-{i}-{}", "x".repeat((i % 50) as usize)).as_bytes()),
            &[("seq", Some(i.to_string().as_bytes()))],
        );
        if i % 3 == 0 {
            r.ts = Some(FIXED_TS_MS + i as i64);
        }
        v.push(r);
    }
    v[0].ts = Some(FIXED_TS_MS);
    v
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn owned_headers(h: &HeaderList) -> Option<OwnedHeaders> {
    if h.is_empty() {
        return None;
    }
    let mut out = OwnedHeaders::new_with_capacity(h.len());
    for (k, v) in h {
        out = out.insert(Header {
            key: k,
            value: v.as_ref(),
        });
    }
    Some(out)
}

/// Produces `recs` to partition 0 of a new topic and returns the offsets the
/// delivery reports gave, in send order.
fn produce_all(bootstrap: &str, topic: &str, recs: &[Rec], compression: &str) -> Vec<i64> {
    let p = future_producer(
        bootstrap,
        &[
            ("compression.type", compression),
            ("linger.ms", "20"),
            ("enable.idempotence", "true"),
        ],
    );
    let futures: Vec<_> = recs
        .iter()
        .map(|r| {
            let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).partition(0);
            if let Some(k) = &r.key {
                fr = fr.key(k.as_slice());
            }
            if let Some(v) = &r.value {
                fr = fr.payload(v.as_slice());
            }
            if let Some(h) = owned_headers(&r.headers) {
                fr = fr.headers(h);
            }
            if let Some(ts) = r.ts {
                fr = fr.timestamp(ts);
            }
            p.send_result(fr)
                .unwrap_or_else(|(e, _)| panic!("enqueue: {e}"))
        })
        .collect();
    block_on(async {
        let mut offsets = Vec::with_capacity(futures.len());
        for (i, f) in futures.into_iter().enumerate() {
            match f.await.expect("delivery future dropped") {
                Ok(d) => {
                    assert_eq!(d.partition, 0);
                    offsets.push(d.offset);
                }
                Err((e, _)) => panic!("record {i} ({compression}) not delivered: {e}"),
            }
        }
        offsets
    })
}

fn as_rec(m: &OwnedMessage) -> Rec {
    Rec {
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers: headers_of(m),
        ts: None,
    }
}

fn round_trip(compression: &str) {
    let broker = start_broker();
    let bs = broker.bootstrap();
    let topic = format!("roundtrip-{compression}");
    create_topic(&bs, &topic, 1);
    let recs = sample_records();
    let t0 = now_ms();
    let offsets = produce_all(&bs, &topic, &recs, compression);
    let t1 = now_ms();
    let dense: Vec<i64> = (0..recs.len() as i64).collect();
    assert_eq!(
        offsets, dense,
        "delivery-report offsets must be dense from 0 in send order"
    );

    let c = assigned_consumer(&bs, &topic, 0, 0);
    let got = consume_n(&c, recs.len(), CLIENT_TIMEOUT);
    for (i, (m, want)) in got.iter().zip(&recs).enumerate() {
        assert_eq!(m.offset(), i as i64, "offset of record {i}");
        assert_eq!(m.partition(), 0);
        let mut want_cmp = want.clone();
        want_cmp.ts = None;
        assert_eq!(as_rec(m), want_cmp, "record {i} ({compression})");
        match (m.timestamp(), want.ts) {
            (Timestamp::CreateTime(ts), Some(w)) => assert_eq!(ts, w, "timestamp of record {i}"),
            (Timestamp::CreateTime(ts), None) => assert!(
                (t0 - 1000..=t1 + 1000).contains(&ts),
                "record {i}: CreateTime {ts} outside produce window {t0}..{t1}"
            ),
            (other, _) => panic!("record {i}: expected CreateTime, got {other:?}"),
        }
    }
    let extra = consume_extra(&c, Duration::from_millis(500));
    assert!(extra.is_empty(), "{} unexpected extra records", extra.len());
    assert_eq!(watermarks(&bs, &topic, 0), (0, recs.len() as i64));

    // Fetching from the middle starts exactly at the requested offset, even
    // inside a compressed batch.
    let mid = 150i64;
    let c2 = assigned_consumer(&bs, &topic, 0, mid);
    let first = consume_n(&c2, 1, CLIENT_TIMEOUT);
    assert_eq!(first[0].offset(), mid);
    assert_eq!(as_rec(&first[0]).value, recs[mid as usize].value);
}

#[test]
fn round_trip_uncompressed() {
    round_trip("none");
}

#[test]
fn round_trip_gzip() {
    round_trip("gzip");
}

#[test]
fn round_trip_snappy() {
    round_trip("snappy");
}

#[test]
fn round_trip_lz4() {
    round_trip("lz4");
}

#[test]
fn round_trip_zstd() {
    round_trip("zstd");
}

/// Keyed records spread over partitions land where the producer put them,
/// each partition with its own dense offsets.
#[test]
fn multi_partition_offsets_are_per_partition() {
    let broker = start_broker();
    let bs = broker.bootstrap();
    let topic = "three-parts";
    create_topic(&bs, topic, 3);
    let p = future_producer(&bs, &[("linger.ms", "5")]);
    let mut per_part: Vec<Vec<String>> = vec![Vec::new(); 3];
    block_on(async {
        for i in 0..90 {
            let part = i % 3;
            let v = format!("p{part}-{i}");
            let d = p
                .send(
                    FutureRecord::to(topic).partition(part).key("k").payload(&v),
                    CLIENT_TIMEOUT,
                )
                .await
                .unwrap_or_else(|(e, _)| panic!("produce {i}: {e}"));
            assert_eq!(d.partition, part);
            assert_eq!(d.offset, per_part[part as usize].len() as i64);
            per_part[part as usize].push(v);
        }
    });
    for (part, want) in per_part.iter().enumerate() {
        let c = assigned_consumer(&bs, topic, part as i32, 0);
        let got: Vec<String> = consume_n(&c, want.len(), CLIENT_TIMEOUT)
            .iter()
            .map(|m| String::from_utf8(m.payload().unwrap().to_vec()).unwrap())
            .collect();
        assert_eq!(&got, want, "partition {part}");
    }
}

/// With auto.create.topics.enable (the default), producing to an unknown
/// topic creates it with num.partitions partitions.
#[test]
fn produce_auto_creates_topic() {
    let broker = start_broker();
    let bs = broker.bootstrap();
    let p = future_producer(&bs, &[]);
    let d = block_on(p.send(
        FutureRecord::to("auto-created").key("k").payload("v"),
        CLIENT_TIMEOUT,
    ))
    .unwrap_or_else(|(e, _)| panic!("produce to auto-created topic: {e}"));
    assert_eq!((d.partition, d.offset), (0, 0));
    let c = assigned_consumer(&bs, "auto-created", 0, 0);
    let got = consume_n(&c, 1, CLIENT_TIMEOUT);
    assert_eq!(got[0].payload(), Some(&b"v"[..]));
}
