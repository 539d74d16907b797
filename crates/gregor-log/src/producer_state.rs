//! Idempotent-producer state of one partition: per producer id, its epoch
//! and the metadata of its last few batches, for duplicate detection and
//! sequence checks (Kafka's `ProducerStateManager`/`ProducerAppendInfo`).
//! Owned by the `Log`, rebuilt at open from a snapshot plus the log tail.

use std::collections::{HashMap, VecDeque};

use gregor_protocol::batch::{BatchHeader, NO_SEQUENCE};

use crate::error::AppendError;

/// Batches remembered per producer, as Kafka's `NUM_BATCHES_TO_RETAIN`: a
/// producer has at most 5 in flight, so any retry is among them.
pub const PRODUCER_BATCHES_RETAINED: usize = 5;

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

/// Verdict on one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceCheck {
    Accept,
    /// A retry of a batch already in the log, with its original offsets.
    Duplicate(BatchMetadata),
}

/// A batch accepted earlier in the same append, not yet applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    pub producer_id: i64,
    pub epoch: i16,
    pub last_sequence: i32,
}

/// Kafka's `inSequence`: the next sequence follows the last, wrapping from
/// `i32::MAX` to 0.
fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

#[derive(Debug, Default)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerState>,
}

impl ProducerStateManager {
    pub fn from_states(states: Vec<ProducerState>) -> ProducerStateManager {
        ProducerStateManager {
            producers: states.into_iter().map(|s| (s.producer_id, s)).collect(),
        }
    }

    /// Checks one batch against the committed state and the batches of the
    /// same append accepted before it (`pending`).
    pub fn check(
        &self,
        h: &BatchHeader,
        origin: AppendOrigin,
        pending: &[Pending],
    ) -> Result<SequenceCheck, AppendError> {
        if !h.has_producer_id() {
            return Ok(SequenceCheck::Accept);
        }
        let committed = self.producers.get(&h.producer_id);
        let client_data = origin == AppendOrigin::Client && !h.is_control();
        if client_data {
            if let Some(duplicate) = committed.and_then(|s| s.find_duplicate(h)) {
                return Ok(SequenceCheck::Duplicate(duplicate));
            }
        }
        let current = pending
            .iter()
            .rev()
            .find(|p| p.producer_id == h.producer_id)
            .map(|p| (p.epoch, p.last_sequence))
            .or_else(|| committed.map(|s| (s.producer_epoch, s.last_sequence())));
        // No state (new producer, or its state expired or was lost with
        // old segments): Kafka accepts any sequence.
        let Some((epoch, last_sequence)) = current else {
            return Ok(SequenceCheck::Accept);
        };
        if h.producer_epoch < epoch {
            return Err(AppendError::InvalidProducerEpoch {
                producer_id: h.producer_id,
                epoch: h.producer_epoch,
                current_epoch: epoch,
            });
        }
        let in_order = if !client_data {
            true
        } else if h.producer_epoch != epoch {
            h.base_sequence == 0
        } else {
            in_sequence(last_sequence, h.base_sequence)
        };
        if !in_order {
            return Err(AppendError::OutOfOrderSequence {
                producer_id: h.producer_id,
                epoch: h.producer_epoch,
                last_sequence: if h.producer_epoch == epoch {
                    last_sequence
                } else {
                    NO_SEQUENCE
                },
                found: h.base_sequence,
            });
        }
        Ok(SequenceCheck::Accept)
    }

    /// Records a batch now in the log (offsets final).
    pub fn update(&mut self, h: &BatchHeader) {
        if !h.has_producer_id() {
            return;
        }
        let state = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerState {
                producer_id: h.producer_id,
                producer_epoch: h.producer_epoch,
                batches: VecDeque::with_capacity(PRODUCER_BATCHES_RETAINED),
                last_timestamp: h.max_timestamp,
            });
        if state.producer_epoch != h.producer_epoch {
            state.producer_epoch = h.producer_epoch;
            state.batches.clear();
        }
        if !h.is_control() && h.base_sequence >= 0 {
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
        state.last_timestamp = h.max_timestamp;
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
    /// `producer.id.expiration.ms`), bounding the map.
    pub fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, s| now_ms.saturating_sub(s.last_timestamp) < expiration_ms);
        before - self.producers.len()
    }
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
        m.check(h, AppendOrigin::Client, &[])
    }

    #[test]
    fn sequences_epochs_and_duplicates_follow_kafka() {
        let mut m = ProducerStateManager::default();
        assert_eq!(
            check(&m, &header(1, 0, 42, 2, 0)).ok(),
            Some(SequenceCheck::Accept),
            "no state: any sequence"
        );
        m.update(&header(1, 0, 0, 2, 0));
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
        m.update(&header(1, 1, 0, 1, 2));
        assert!(matches!(
            check(&m, &header(1, 0, 2, 1, 3)),
            Err(AppendError::InvalidProducerEpoch { .. })
        ));
    }

    #[test]
    fn sequence_wraps_after_i32_max_and_only_five_batches_are_kept() {
        let mut m = ProducerStateManager::default();
        m.update(&header(1, 0, i32::MAX - 1, 2, 0));
        assert_eq!(
            check(&m, &header(1, 0, 0, 1, 2)).ok(),
            Some(SequenceCheck::Accept)
        );
        assert!(check(&m, &header(1, 0, i32::MIN, 1, 2)).is_err());
        for i in 0..7 {
            m.update(&header(2, 0, i, 1, 10 + i64::from(i)));
        }
        let state = &m.states()[1];
        assert_eq!(state.batches.len(), PRODUCER_BATCHES_RETAINED);
        assert_eq!(state.batches[0].first_sequence, 2);
        assert_eq!(state.last_sequence(), 6);
    }

    #[test]
    fn pending_batches_of_the_same_append_count() {
        let mut m = ProducerStateManager::default();
        m.update(&header(1, 0, 0, 1, 0));
        let pending = [Pending {
            producer_id: 1,
            epoch: 0,
            last_sequence: 1,
        }];
        assert_eq!(
            m.check(&header(1, 0, 2, 1, 2), AppendOrigin::Client, &pending)
                .ok(),
            Some(SequenceCheck::Accept)
        );
        assert!(m
            .check(&header(1, 0, 1, 1, 2), AppendOrigin::Client, &pending)
            .is_err());
    }
}
