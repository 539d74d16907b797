//! Durability across broker restarts: an idempotent acks=all producer sends
//! numbered records in a loop while the broker is first stopped cleanly
//! (SIGTERM) and restarted, then killed (SIGKILL) and restarted. Every record
//! whose delivery was acknowledged must afterwards be in the log exactly
//! once, at the offset its acknowledgement reported, in send order.
//!
//! SIGKILL loses nothing acknowledged here even without fsync: the page cache
//! outlives the process, exactly as with Kafka.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

/// Records acknowledged between two faults before the next one is injected.
const ACKS_PER_PHASE: usize = 1500;
/// Records the sender keeps unacknowledged at most (bounds the queue).
const OUTSTANDING_MAX: u64 = 300;
/// Hard cap on records sent, so the loop ends even if acks stop coming.
const SEND_CAP: u64 = 200_000;
/// How long one phase may take to reach its acknowledgements.
const PHASE_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Default)]
struct AckState {
    /// seq -> offset reported by the delivery report.
    acked: BTreeMap<u64, i64>,
    /// seq -> delivery error.
    failed: BTreeMap<u64, String>,
    /// Delivery reports received more than once for the same seq.
    double_reports: Vec<u64>,
}

/// Producer context living on librdkafka's poll thread; records every
/// delivery report.
#[derive(Default)]
struct AckLog {
    state: Mutex<AckState>,
    changed: Condvar,
}

impl ClientContext for AckLog {}

impl ProducerContext for AckLog {
    type DeliveryOpaque = Box<u64>;

    fn delivery(&self, r: &DeliveryResult<'_>, seq: Box<u64>) {
        let mut s = self.state.lock().unwrap();
        let seq = *seq;
        let dup = s.acked.contains_key(&seq) || s.failed.contains_key(&seq);
        if dup {
            s.double_reports.push(seq);
        }
        match r {
            Ok(m) => {
                s.acked.insert(seq, m.offset());
            }
            Err((e, _)) => {
                s.failed.insert(seq, e.to_string());
            }
        }
        self.changed.notify_all();
    }
}

impl AckLog {
    fn reported(&self) -> u64 {
        let s = self.state.lock().unwrap();
        (s.acked.len() + s.failed.len()) as u64
    }

    fn acked(&self) -> usize {
        self.state.lock().unwrap().acked.len()
    }

    fn wait_acked(&self, n: usize, timeout: Duration, phase: &str) {
        let deadline = Instant::now() + timeout;
        let mut s = self.state.lock().unwrap();
        while s.acked.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{phase}: only {} of {n} records acknowledged within {timeout:?}; {} failed, first failures: {:?}",
                s.acked.len(),
                s.failed.len(),
                s.failed.iter().take(5).collect::<Vec<_>>()
            );
            s = self.changed.wait_timeout(s, left).unwrap().0;
        }
    }
}

/// Sends "msg-<seq>" records until told to stop; returns how many it sent.
fn sender_loop(
    producer: Arc<ThreadedProducer<AckLog>>,
    topic: String,
    stop: Arc<AtomicBool>,
) -> u64 {
    let log = producer.context().clone();
    let mut seq = 0u64;
    while !stop.load(Ordering::SeqCst) && seq < SEND_CAP {
        if seq - log.reported() >= OUTSTANDING_MAX {
            let s = log.state.lock().unwrap();
            let _ = log
                .changed
                .wait_timeout(s, Duration::from_millis(50))
                .unwrap();
            continue;
        }
        let payload = format!("msg-{seq:08}");
        let key = (seq % 16).to_string();
        let rec = BaseRecord::with_opaque_to(&topic, Box::new(seq))
            .partition(0)
            .key(&key)
            .payload(&payload);
        match producer.send(rec) {
            Ok(()) => seq += 1,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                let s = log.state.lock().unwrap();
                let _ = log
                    .changed
                    .wait_timeout(s, Duration::from_millis(50))
                    .unwrap();
            }
            Err((e, _)) => panic!("enqueue of seq {seq} failed: {e}"),
        }
    }
    seq
}

#[test]
fn acknowledged_records_survive_sigterm_and_sigkill_restarts() {
    let mut broker = start_broker();
    let bs = broker.bootstrap();
    let topic = "durable".to_string();
    create_topic(&bs, &topic, 1);

    let producer: ThreadedProducer<AckLog> = base_config(&bs)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "120000")
        .set("retry.backoff.ms", "50")
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "500")
        .create_with_context(AckLog::default())
        .expect("producer");
    let log = producer.context().clone();
    let producer = Arc::new(producer);
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (p, t, s) = (producer.clone(), topic.clone(), stop.clone());
        thread::spawn(move || sender_loop(p, t, s))
    };

    log.wait_acked(ACKS_PER_PHASE, PHASE_TIMEOUT, "before SIGTERM");
    let status = broker.terminate().expect("SIGTERM shutdown");
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status}"
    );
    broker.restart().expect("restart after SIGTERM");

    let n = log.acked() + ACKS_PER_PHASE;
    log.wait_acked(n, PHASE_TIMEOUT, "after SIGTERM restart");
    broker.kill9().expect("SIGKILL");
    broker.restart().expect("restart after SIGKILL");

    let n = log.acked() + ACKS_PER_PHASE;
    log.wait_acked(n, PHASE_TIMEOUT, "after SIGKILL restart");
    stop.store(true, Ordering::SeqCst);
    let sent = sender.join().expect("sender thread");
    producer.flush(Duration::from_secs(120)).expect("flush");

    verify_log(&bs, &topic, &log, sent);
    assert!(broker.is_running(), "broker died during verification");
}

fn verify_log(bs: &str, topic: &str, log: &AckLog, sent: u64) {
    let s = log.state.lock().unwrap();
    assert!(
        s.double_reports.is_empty(),
        "double delivery reports: {:?}",
        s.double_reports
    );
    let (start, end) = watermarks(bs, topic, 0);
    assert_eq!(start, 0, "log start offset");
    let c = assigned_consumer(bs, topic, 0, 0);
    let got = consume_n(&c, end as usize, CLIENT_TIMEOUT * 2);

    let mut seq_at: Vec<u64> = Vec::with_capacity(got.len());
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.offset(), i as i64, "offsets must be dense");
        let p = std::str::from_utf8(m.payload().expect("payload")).expect("utf8");
        let seq: u64 = p
            .strip_prefix("msg-")
            .and_then(|x| x.parse().ok())
            .expect("msg-N");
        seq_at.push(seq);
    }
    let mut count: HashMap<u64, usize> = HashMap::new();
    for q in &seq_at {
        *count.entry(*q).or_default() += 1;
    }
    let mut missing = Vec::new();
    let mut misplaced = Vec::new();
    let mut duplicated = Vec::new();
    for (&seq, &off) in &s.acked {
        match count.get(&seq).copied().unwrap_or(0) {
            0 => missing.push(seq),
            1 => {}
            n => duplicated.push((seq, n)),
        }
        if seq_at.get(off as usize) != Some(&seq) {
            misplaced.push((seq, off, seq_at.get(off as usize).copied()));
        }
    }
    let acked_in_log: Vec<u64> = seq_at
        .iter()
        .copied()
        .filter(|q| s.acked.contains_key(q))
        .collect();
    let out_of_order = acked_in_log.windows(2).filter(|w| w[0] >= w[1]).count();
    let unacked_in_log = seq_at.iter().filter(|q| !s.acked.contains_key(q)).count();
    let summary = format!(
        "sent {sent}, acked {}, failed {}, log end {end}, unacked records in log {unacked_in_log}",
        s.acked.len(),
        s.failed.len()
    );
    eprintln!("durability: {summary}");
    assert!(
        missing.is_empty(),
        "{summary}: {} acked records missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(
        duplicated.is_empty(),
        "{summary}: acked records duplicated (seq, copies): {:?}",
        &duplicated[..duplicated.len().min(10)]
    );
    assert!(
        misplaced.is_empty(),
        "{summary}: acked records not at their acked offset (seq, acked offset, seq found): {:?}",
        &misplaced[..misplaced.len().min(10)]
    );
    assert_eq!(
        out_of_order, 0,
        "{summary}: acked records out of send order"
    );
    assert!(
        s.failed.is_empty(),
        "{summary}: deliveries failed although the broker came back well within message.timeout.ms: {:?}",
        s.failed.iter().take(10).collect::<Vec<_>>()
    );
    assert_eq!(
        s.acked.len() as u64,
        sent,
        "{summary}: every sent record gets a report after flush"
    );
}
