//! The partition side of transactions on [`Log`]: writing markers, the
//! last stable offset, KIP-890 verification, and indexing aborts. The
//! rules themselves live in `producer_state.rs`; `log_read.rs` answers
//! `read_committed` fetches from the transaction indexes.

use gregor_protocol::batch::{BatchHeader, NO_SEQUENCE};

use crate::error::{AppendError, LogError};
use crate::log::{AppendInfo, AppendOptions, Log};
use crate::producer_state::{
    AppendOrigin, CompletedTxn, Pending, ProducerStateManager, VerificationGuard,
    NO_COORDINATOR_EPOCH,
};
use crate::txn_marker::{self, TxnMarker};

impl Log {
    /// Adds aborted transactions to the active segment's transaction index
    /// (the markers are in it). The batches are written, so a failure here
    /// takes the log offline: a fetch must never miss an abort.
    pub(crate) fn index_aborts(&mut self, aborted: &[CompletedTxn]) -> Result<(), LogError> {
        for completed in aborted {
            let storage = self.storage.clone();
            let result = self
                .active_mut()
                .txn_index_mut()
                .append(&*storage, completed.entry);
            if let Err(e) = result {
                return Err(self.fail("append to the transaction index", e));
            }
        }
        Ok(())
    }

    /// Writes a transaction marker for `producer_id` (the transaction
    /// coordinator's WriteTxnMarkers): a control batch, commit or abort,
    /// stamped `now_ms`, appended with coordinator origin. It ends the
    /// producer's transaction in this partition (releasing the last stable
    /// offset), retires any verification guard, and an abort is recorded
    /// in the transaction index. Fails with INVALID_PRODUCER_EPOCH for an
    /// epoch older than the producer's and TRANSACTION_COORDINATOR_FENCED
    /// for a coordinator epoch older than the last marker's.
    pub fn append_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        let marker = TxnMarker {
            commit,
            coordinator_epoch,
        };
        let batch = txn_marker::encode(producer_id, producer_epoch, marker, leader_epoch, now_ms);
        let options = AppendOptions {
            origin: AppendOrigin::Coordinator,
            verification_guard: VerificationGuard::SENTINEL,
        };
        self.append_with(&batch, leader_epoch, now_ms, options)
    }

    /// KIP-890: starts verifying that `producer_id`'s transaction includes
    /// this partition. Returns the guard to pass in [`AppendOptions`] once
    /// the coordinator said yes, or [`VerificationGuard::SENTINEL`] when
    /// the producer's transaction is already ongoing here (no verification
    /// needed). Asking again before the guard is used returns the same one.
    pub fn start_verification(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
    ) -> VerificationGuard {
        self.producers
            .start_verification(producer_id, producer_epoch, self.last_seen_ms)
    }

    /// The first offset of the oldest ongoing transaction, if any.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.producers.first_unstable_offset()
    }

    /// The last stable offset: below it every transaction is decided. The
    /// log end offset stands for the high watermark, which it is on a
    /// single node once an append returns; see [`Log::last_stable_offset_at`].
    pub fn last_stable_offset(&self) -> i64 {
        self.last_stable_offset_at(self.log_end_offset())
    }

    /// Kafka's `UnifiedLog.lastStableOffset` for a high watermark:
    /// the first unstable offset, capped at the high watermark.
    pub fn last_stable_offset_at(&self, high_watermark: i64) -> i64 {
        self.first_unstable_offset()
            .map_or(high_watermark, |f| f.min(high_watermark))
    }
}

/// What a producer's state will be after `h`, accepted, is applied (for
/// the checks of later batches of the same append).
pub(crate) fn pending_after(
    h: &BatchHeader,
    marker: Option<TxnMarker>,
    before: Option<Pending>,
    producers: &ProducerStateManager,
) -> Pending {
    let before = before
        .or_else(|| producers.pending_of(h.producer_id, &[]))
        .unwrap_or(Pending {
            producer_id: h.producer_id,
            epoch: h.producer_epoch,
            last_sequence: NO_SEQUENCE,
            in_txn: false,
            coordinator_epoch: NO_COORDINATOR_EPOCH,
        });
    let epoch_changed = before.epoch != h.producer_epoch;
    let last_sequence = if h.is_control() || h.base_sequence < 0 {
        if epoch_changed {
            NO_SEQUENCE
        } else {
            before.last_sequence
        }
    } else {
        h.last_sequence()
    };
    Pending {
        producer_id: h.producer_id,
        epoch: h.producer_epoch,
        last_sequence,
        in_txn: match marker {
            Some(_) => false,
            None => before.in_txn || (h.is_transactional() && !h.is_control()),
        },
        coordinator_epoch: marker.map_or(before.coordinator_epoch, |m| m.coordinator_epoch),
    }
}
