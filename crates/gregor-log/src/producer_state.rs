//! Idempotent and transactional producer state of one partition: per
//! producer id, its epoch, the metadata of its last few batches (duplicate
//! detection, sequence checks), its ongoing transaction and the epoch of
//! the coordinator that last wrote a marker for it; plus the partition's
//! ongoing transactions by first offset (which hold the last stable
//! offset) and KIP-890 verification guards (Kafka's
//! `ProducerStateManager`/`ProducerAppendInfo`/`VerificationStateEntry`).
//! Owned by the `Log`, rebuilt at open from a snapshot plus the log tail.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use gregor_protocol::batch::{BatchHeader, NO_SEQUENCE};

use crate::error::AppendError;
use crate::txn_index::AbortedTxn;
use crate::txn_marker::TxnMarker;

/// Batches remembered per producer, as Kafka's `NUM_BATCHES_TO_RETAIN`: a
/// producer has at most 5 in flight, so any retry is among them.
pub const PRODUCER_BATCHES_RETAINED: usize = 5;

/// Coordinator epoch of a producer no marker was written for yet.
pub const NO_COORDINATOR_EPOCH: i32 = -1;

/// One appended batch of an idempotent producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    /// The batch's max timestamp as stored (log-append time if applied).
    pub timestamp: i64,
}

/// What the partition knows about one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerState {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// Oldest first; at most [`PRODUCER_BATCHES_RETAINED`].
    pub batches: VecDeque<BatchMetadata>,
    /// Max timestamp of the producer's latest batch (drives expiry).
    pub last_timestamp: i64,
    /// First offset of the producer's ongoing transaction in this
    /// partition (DescribeProducers' `current_txn_start_offset`).
    pub current_txn_first_offset: Option<i64>,
    /// Epoch of the coordinator that wrote the producer's latest marker,
    /// or [`NO_COORDINATOR_EPOCH`]; markers of an older one are fenced.
    pub coordinator_epoch: i32,
}

impl ProducerState {
    pub fn last_sequence(&self) -> i32 {
        self.batches.back().map_or(NO_SEQUENCE, |b| b.last_sequence)
    }

    fn find_duplicate(&self, h: &BatchHeader) -> Option<BatchMetadata> {
        if h.producer_epoch != self.producer_epoch {
            return None;
        }
        let last = h.last_sequence();
        self.batches
            .iter()
            .find(|b| b.first_sequence == h.base_sequence && b.last_sequence == last)
            .copied()
    }

    /// Kafka's `maybeUpdateProducerEpoch`: a new epoch forgets the batches.
    fn set_epoch(&mut self, epoch: i16) {
        if self.producer_epoch != epoch {
            self.producer_epoch = epoch;
            self.batches.clear();
        }
    }
}

/// Who is appending, which decides the producer checks (Kafka's
/// `AppendOrigin`). Clients get duplicate detection and sequence checks and
/// may not write control batches; coordinators (transaction markers,
/// offset commits) get only the epoch fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppendOrigin {
    #[default]
    Client,
    Coordinator,
}

/// KIP-890 part 1: proof that the transaction coordinator was asked, after
/// [`Log::start_verification`](crate::Log::start_verification), whether a
/// producer's transaction includes this partition. A transactional batch
/// that would start a transaction here is appended only with the guard the
/// log handed out, and only while that guard is current: a marker (or the
/// first transactional append) retires it, so a stale "verified" answer
/// that raced with an abort cannot open a transaction the coordinator does
/// not know. Unique across all logs of the process, like Kafka's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VerificationGuard(u64);

impl VerificationGuard {
    /// "Not verified": never verifies anything (Kafka's `SENTINEL`). The
    /// default of [`AppendOptions`](crate::AppendOptions).
    pub const SENTINEL: VerificationGuard = VerificationGuard(0);

    fn fresh() -> VerificationGuard {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        VerificationGuard(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    pub fn is_sentinel(&self) -> bool {
        *self == VerificationGuard::SENTINEL
    }
}

/// A verification in progress for one producer.
#[derive(Debug, Clone, Copy)]
struct Verification {
    guard: VerificationGuard,
    epoch: i16,
    created_ms: i64,
}

/// A transaction a marker ended, for the transaction index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompletedTxn {
    pub aborted: bool,
    pub entry: AbortedTxn,
}

/// Verdict on one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceCheck {
    Accept,
    /// A retry of a batch already in the log, with its original offsets.
    Duplicate(BatchMetadata),
}

/// What the checks know of a producer: its committed state, or the state
/// a batch accepted earlier in the same append will leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pending {
    pub producer_id: i64,
    pub epoch: i16,
    pub last_sequence: i32,
    pub in_txn: bool,
    pub coordinator_epoch: i32,
}

/// Kafka's `inSequence`: the next sequence follows the last, wrapping from
/// `i32::MAX` to 0.
fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

#[derive(Debug, Default)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerState>,
    /// Ongoing transactions: first offset → producer id.
    ongoing: BTreeMap<i64, i64>,
    /// Verifications started and not yet used or retired, by producer id.
    /// Bounded by expiry (`remove_expired`).
    verifications: HashMap<i64, Verification>,
}

impl ProducerStateManager {
    pub fn from_states(states: Vec<ProducerState>) -> ProducerStateManager {
        let ongoing = states
            .iter()
            .filter_map(|s| Some((s.current_txn_first_offset?, s.producer_id)))
            .collect();
        ProducerStateManager {
            producers: states.into_iter().map(|s| (s.producer_id, s)).collect(),
            ongoing,
            verifications: HashMap::new(),
        }
    }

    /// The first offset of the oldest ongoing transaction.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    pub fn has_ongoing_txn(&self, producer_id: i64) -> bool {
        self.producers
            .get(&producer_id)
            .is_some_and(|s| s.current_txn_first_offset.is_some())
    }

    /// Kafka's `maybeStartTransactionVerification`: the sentinel when the
    /// producer's transaction is already ongoing here (no verification
    /// needed), else the producer's current guard, created if need be.
    pub fn start_verification(
        &mut self,
        producer_id: i64,
        epoch: i16,
        now_ms: i64,
    ) -> VerificationGuard {
        if self.has_ongoing_txn(producer_id) {
            return VerificationGuard::SENTINEL;
        }
        let entry = self
            .verifications
            .entry(producer_id)
            .or_insert_with(|| Verification {
                guard: VerificationGuard::fresh(),
                epoch,
                created_ms: now_ms,
            });
        entry.epoch = entry.epoch.max(epoch);
        entry.guard
    }

    /// Whether `presented` is the producer's current guard.
    fn verified(&self, producer_id: i64, presented: VerificationGuard) -> bool {
        !presented.is_sentinel()
            && self
                .verifications
                .get(&producer_id)
                .is_some_and(|v| v.guard == presented)
    }

    /// The producer as the checks see it: after the latest of `pending`,
    /// else as committed.
    pub fn pending_of(&self, producer_id: i64, pending: &[Pending]) -> Option<Pending> {
        pending
            .iter()
            .rev()
            .find(|p| p.producer_id == producer_id)
            .copied()
            .or_else(|| {
                self.producers.get(&producer_id).map(|s| Pending {
                    producer_id,
                    epoch: s.producer_epoch,
                    last_sequence: s.last_sequence(),
                    in_txn: s.current_txn_first_offset.is_some(),
                    coordinator_epoch: s.coordinator_epoch,
                })
            })
    }

    /// Checks one batch against the committed state and the batches of the
    /// same append accepted before it (`pending`), in Kafka's order:
    /// duplicate, verification guard, epoch fence, then sequence (data) or
    /// coordinator epoch (markers), then transaction state. `marker` is the
    /// decoded marker of a control batch.
    pub fn check(
        &self,
        h: &BatchHeader,
        origin: AppendOrigin,
        marker: Option<TxnMarker>,
        guard: VerificationGuard,
        pending: &[Pending],
    ) -> Result<SequenceCheck, AppendError> {
        if !h.has_producer_id() {
            return Ok(SequenceCheck::Accept);
        }
        let client_data = origin == AppendOrigin::Client && !h.is_control();
        if client_data {
            let committed = self.producers.get(&h.producer_id);
            if let Some(duplicate) = committed.and_then(|s| s.find_duplicate(h)) {
                return Ok(SequenceCheck::Duplicate(duplicate));
            }
        }
        let current = self.pending_of(h.producer_id, pending);
        let in_txn = current.is_some_and(|c| c.in_txn);
        // Coordinators (transactional offset commits) verify against the
        // transaction themselves before writing.
        if client_data && h.is_transactional() && !in_txn && !self.verified(h.producer_id, guard) {
            return Err(AppendError::InvalidTxnState(format!(
                "producer {} has no ongoing transaction in this partition and the batch is not verified",
                h.producer_id
            )));
        }
        // No state (new producer, or its state expired or was lost with
        // old segments): Kafka accepts any sequence.
        let Some(current) = current else {
            return Ok(SequenceCheck::Accept);
        };
        if h.producer_epoch < current.epoch {
            return Err(AppendError::InvalidProducerEpoch {
                producer_id: h.producer_id,
                epoch: h.producer_epoch,
                current_epoch: current.epoch,
            });
        }
        if h.is_control() {
            return check_marker(h, marker, current);
        }
        let in_order = if !client_data {
            true
        } else if h.producer_epoch != current.epoch {
            h.base_sequence == 0
        } else {
            in_sequence(current.last_sequence, h.base_sequence)
        };
        if !in_order {
            return Err(AppendError::OutOfOrderSequence {
                producer_id: h.producer_id,
                epoch: h.producer_epoch,
                last_sequence: if h.producer_epoch == current.epoch {
                    current.last_sequence
                } else {
                    NO_SEQUENCE
                },
                found: h.base_sequence,
            });
        }
        if current.in_txn && !h.is_transactional() {
            return Err(AppendError::InvalidTxnState(format!(
                "producer {} wrote a non-transactional batch inside its ongoing transaction",
                h.producer_id
            )));
        }
        Ok(SequenceCheck::Accept)
    }

    /// Records a batch now in the log (offsets final). For a marker that
    /// ended a transaction with data here, returns what the transaction
    /// index needs (Kafka emits nothing for an empty transaction).
    pub fn update(&mut self, h: &BatchHeader, marker: Option<TxnMarker>) -> Option<CompletedTxn> {
        if !h.has_producer_id() {
            return None;
        }
        // The append used the guard, or the marker retired it.
        self.verifications.remove(&h.producer_id);
        let state = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerState {
                producer_id: h.producer_id,
                producer_epoch: h.producer_epoch,
                batches: VecDeque::with_capacity(PRODUCER_BATCHES_RETAINED),
                last_timestamp: h.max_timestamp,
                current_txn_first_offset: None,
                coordinator_epoch: NO_COORDINATOR_EPOCH,
            });
        state.set_epoch(h.producer_epoch);
        state.last_timestamp = h.max_timestamp;
        if let Some(marker) = marker {
            state.coordinator_epoch = marker.coordinator_epoch;
            let first_offset = state.current_txn_first_offset.take()?;
            self.ongoing.remove(&first_offset);
            let last_offset = h.base_offset;
            return Some(CompletedTxn {
                aborted: !marker.commit,
                entry: AbortedTxn {
                    producer_id: h.producer_id,
                    first_offset,
                    last_offset,
                    last_stable_offset: self.first_unstable_offset().unwrap_or(last_offset + 1),
                },
            });
        }
        if h.is_control() {
            return None;
        }
        if h.base_sequence >= 0 {
            if state.batches.len() == PRODUCER_BATCHES_RETAINED {
                state.batches.pop_front();
            }
            state.batches.push_back(BatchMetadata {
                first_sequence: h.base_sequence,
                last_sequence: h.last_sequence(),
                first_offset: h.base_offset,
                last_offset: h.last_offset(),
                timestamp: h.max_timestamp,
            });
        }
        if h.is_transactional() && state.current_txn_first_offset.is_none() {
            state.current_txn_first_offset = Some(h.base_offset);
            self.ongoing.insert(h.base_offset, h.producer_id);
        }
        None
    }

    /// All producers, by producer id.
    pub fn states(&self) -> Vec<ProducerState> {
        let mut states: Vec<ProducerState> = self.producers.values().cloned().collect();
        states.sort_by_key(|s| s.producer_id);
        states
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Forgets producers idle for `expiration_ms` (Kafka's
    /// `producer.id.expiration.ms`), bounding the map; a producer with an
    /// ongoing transaction stays, as in Kafka. Verifications older than
    /// that go too.
    pub fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, s| {
            s.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(s.last_timestamp) < expiration_ms
        });
        self.verifications
            .retain(|_, v| now_ms.saturating_sub(v.created_ms) < expiration_ms);
        before - self.producers.len()
    }
}

/// Kafka's `appendEndTxnMarker` checks after the epoch fence: the batch
/// must be a marker, and its coordinator epoch must not be older than the
/// last one seen (a zombie coordinator is fenced).
fn check_marker(
    h: &BatchHeader,
    marker: Option<TxnMarker>,
    current: Pending,
) -> Result<SequenceCheck, AppendError> {
    let Some(marker) = marker else {
        return Err(AppendError::InvalidRecord(format!(
            "control batch of producer {} holds no transaction marker",
            h.producer_id
        )));
    };
    if current.coordinator_epoch > marker.coordinator_epoch {
        return Err(AppendError::TransactionCoordinatorFenced {
            producer_id: h.producer_id,
            coordinator_epoch: marker.coordinator_epoch,
            current_coordinator_epoch: current.coordinator_epoch,
        });
    }
    Ok(SequenceCheck::Accept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32, offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset: offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 10,
            max_timestamp: 10,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: count,
        }
    }

    fn check(m: &ProducerStateManager, h: &BatchHeader) -> Result<SequenceCheck, AppendError> {
        m.check(
            h,
            AppendOrigin::Client,
            None,
            VerificationGuard::SENTINEL,
            &[],
        )
    }

    #[test]
    fn sequences_epochs_and_duplicates_follow_kafka() {
        let mut m = ProducerStateManager::default();
        assert_eq!(
            check(&m, &header(1, 0, 42, 2, 0)).ok(),
            Some(SequenceCheck::Accept),
            "no state: any sequence"
        );
        m.update(&header(1, 0, 0, 2, 0), None);
        assert!(matches!(
            check(&m, &header(1, 0, 3, 1, 2)),
            Err(AppendError::OutOfOrderSequence { .. })
        ));
        assert_eq!(
            check(&m, &header(1, 0, 2, 1, 2)).ok(),
            Some(SequenceCheck::Accept)
        );
        let duplicate = check(&m, &header(1, 0, 0, 2, 99)).ok();
        assert!(
            matches!(duplicate, Some(SequenceCheck::Duplicate(b)) if b.first_offset == 0 && b.last_offset == 1)
        );
        assert!(matches!(
            check(&m, &header(1, 1, 5, 1, 2)),
            Err(AppendError::OutOfOrderSequence { .. })
        ));
        assert_eq!(
            check(&m, &header(1, 1, 0, 1, 2)).ok(),
            Some(SequenceCheck::Accept)
        );
        m.update(&header(1, 1, 0, 1, 2), None);
        assert!(matches!(
            check(&m, &header(1, 0, 2, 1, 3)),
            Err(AppendError::InvalidProducerEpoch { .. })
        ));
    }

    #[test]
    fn sequence_wraps_after_i32_max_and_only_five_batches_are_kept() {
        let mut m = ProducerStateManager::default();
        m.update(&header(1, 0, i32::MAX - 1, 2, 0), None);
        assert_eq!(
            check(&m, &header(1, 0, 0, 1, 2)).ok(),
            Some(SequenceCheck::Accept)
        );
        assert!(check(&m, &header(1, 0, i32::MIN, 1, 2)).is_err());
        for i in 0..7 {
            m.update(&header(2, 0, i, 1, 10 + i64::from(i)), None);
        }
        let state = &m.states()[1];
        assert_eq!(state.batches.len(), PRODUCER_BATCHES_RETAINED);
        assert_eq!(state.batches[0].first_sequence, 2);
        assert_eq!(state.last_sequence(), 6);
    }

    #[test]
    fn pending_batches_of_the_same_append_count() {
        let mut m = ProducerStateManager::default();
        m.update(&header(1, 0, 0, 1, 0), None);
        let pending = [Pending {
            producer_id: 1,
            epoch: 0,
            last_sequence: 1,
            in_txn: false,
            coordinator_epoch: NO_COORDINATOR_EPOCH,
        }];
        assert_eq!(
            m.check(
                &header(1, 0, 2, 1, 2),
                AppendOrigin::Client,
                None,
                VerificationGuard::SENTINEL,
                &pending
            )
            .ok(),
            Some(SequenceCheck::Accept)
        );
        assert!(m
            .check(
                &header(1, 0, 1, 1, 2),
                AppendOrigin::Client,
                None,
                VerificationGuard::SENTINEL,
                &pending
            )
            .is_err());
    }
}
