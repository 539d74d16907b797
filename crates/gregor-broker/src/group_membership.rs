//! The broker's side of classic group membership: running membership
//! events on the coordinator shards, writing their records, answering the
//! JoinGroup/SyncGroup requests that the coordinator parked, and driving
//! the coordinator's timers.
//!
//! A parked request's handler waits on a oneshot channel registered here
//! under its waiter id; the coordinator names the id in a `Completion` when
//! the request's answer is due (possibly from the periodic tick). Requests
//! on one connection are handled one at a time, so a parked JoinGroup holds
//! up only its own connection, as in Kafka.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Mutex;

use gregor_coordinator::classic::{ClassicOutput, Completion, WaiterId};
use gregor_coordinator::consumer::ConsumerUndo;
use gregor_coordinator::{CoordinatorRecord, GroupCoordinatorShard, OFFSETS_TOPIC};
use gregor_log::AppendError;
use gregor_protocol::kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use gregor_protocol::kafka_protocol::ResponseError;
use tokio::sync::oneshot;
use tracing::warn;

use crate::broker::{write_group_records, Broker, GroupOpError};
use crate::partition::{Partition, PartitionError};
use crate::time::now_ms;

/// How often the coordinator's timers (sessions, rebalance and initial
/// delays, SyncGroup deadlines) are checked: their resolution.
pub const GROUP_TICK_INTERVAL_MS: u64 = 100;

enum Parked {
    Join(oneshot::Sender<JoinGroupResponse>),
    Sync(oneshot::Sender<SyncGroupResponse>),
}

/// Requests parked in the group coordinator, by waiter id. At most one
/// request per connection is in flight, so the connection limit bounds it.
#[derive(Default)]
pub struct GroupWaiters {
    next_id: AtomicU64,
    parked: Mutex<HashMap<WaiterId, Parked>>,
}

impl GroupWaiters {
    fn park(&self, parked: Parked) -> WaiterId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, parked);
        id
    }

    /// Registers a JoinGroup about to be handed to the coordinator.
    pub fn park_join(&self) -> (WaiterId, oneshot::Receiver<JoinGroupResponse>) {
        let (tx, rx) = oneshot::channel();
        (self.park(Parked::Join(tx)), rx)
    }

    /// Registers a SyncGroup about to be handed to the coordinator.
    pub fn park_sync(&self) -> (WaiterId, oneshot::Receiver<SyncGroupResponse>) {
        let (tx, rx) = oneshot::channel();
        (self.park(Parked::Sync(tx)), rx)
    }

    /// Forgets a request the coordinator never saw.
    pub fn cancel(&self, id: WaiterId) {
        self.lock().remove(&id);
    }

    /// Sends a completion to its handler. A handler that went away (its
    /// connection task ended) simply does not receive it.
    fn complete(&self, completion: Completion) {
        let parked = self.lock().remove(&completion.waiter());
        match (parked, completion) {
            (Some(Parked::Join(tx)), Completion::Join { response, .. }) => {
                let _ = tx.send(response);
            }
            (Some(Parked::Sync(tx)), Completion::Sync { response, .. }) => {
                let _ = tx.send(response);
            }
            (None, c) => warn!(
                waiter = c.waiter(),
                "completion for a request no longer parked"
            ),
            (Some(_), c) => warn!(
                waiter = c.waiter(),
                "completion of the wrong kind for a parked request"
            ),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WaiterId, Parked>> {
        self.parked.lock().expect("group waiter lock")
    }
}

impl Broker {
    /// Runs one membership event under the lock of `group_id`'s shard,
    /// writes the records it produced to the shard's `__consumer_offsets`
    /// partition and answers the parked requests it completed.
    /// Synchronous file I/O: call from a blocking context.
    pub fn membership_event<R>(
        &self,
        group_id: &str,
        event: impl FnOnce(&mut GroupCoordinatorShard) -> (R, ClassicOutput),
    ) -> Result<R, GroupOpError> {
        let (partition, mut shard) = self.group_shard(group_id)?;
        let (result, out) = event(&mut shard);
        let completions = self.write_membership(&partition, out);
        drop(shard);
        completions
            .into_iter()
            .for_each(|c| self.group_waiters.complete(c));
        Ok(result)
    }

    /// Runs one consumer-group (KIP-848) event under the lock of
    /// `group_id`'s shard and writes its records. If they cannot be
    /// written, the group is put back as it was and the write error is
    /// returned, so the member retries against the state the log holds.
    /// Synchronous file I/O: call from a blocking context.
    pub fn consumer_group_event<R>(
        &self,
        group_id: &str,
        event: impl FnOnce(&mut GroupCoordinatorShard) -> (R, Vec<CoordinatorRecord>, ConsumerUndo),
    ) -> Result<R, GroupOpError> {
        let (partition, mut shard) = self.group_shard(group_id)?;
        let (result, records, undo) = event(&mut shard);
        if !records.is_empty() {
            if let Err(e) = write_group_records(&partition, &records, now_ms()) {
                shard.undo_consumer_event(undo);
                return Err(GroupOpError::Write(e));
            }
        }
        Ok(result)
    }

    /// Fires the due membership timers of every hosted coordinator shard.
    /// Synchronous file I/O: call from a blocking context.
    pub fn tick_groups(&self) {
        let now = now_ms();
        for index in 0..self.groups.partitions() {
            let Some(partition) = self.replicas.get(OFFSETS_TOPIC, index) else {
                continue;
            };
            let mut shard = self.groups.shard(index);
            let out = shard.tick(now);
            if out.is_empty() {
                continue;
            }
            let completions = self.write_membership(&partition, out);
            drop(shard);
            completions
                .into_iter()
                .for_each(|c| self.group_waiters.complete(c));
        }
    }

    /// Writes an event's records; returns the completions to send, turned
    /// into errors if the records could not be written.
    fn write_membership(&self, partition: &Arc<Partition>, out: ClassicOutput) -> Vec<Completion> {
        if out.records.is_empty() {
            return out.completions;
        }
        match write_group_records(partition, &out.records, now_ms()) {
            Ok(()) => out.completions,
            Err(e) => {
                warn!(partition = %partition.name(), error = ?e, "group metadata not written");
                let code = write_error_code(&e).code();
                out.completions
                    .into_iter()
                    .map(|c| c.failed(code))
                    .collect()
            }
        }
    }
}

/// Kafka's mapping of a failed coordinator write to the client's error: a
/// missing or unwritable offsets partition sends the client to find the
/// coordinator again, an oversized write is the server's fault.
fn write_error_code(e: &PartitionError) -> ResponseError {
    match e {
        PartitionError::Gone => ResponseError::CoordinatorNotAvailable,
        PartitionError::Append(AppendError::Io(_))
        | PartitionError::Log(_)
        | PartitionError::Read(_) => ResponseError::NotCoordinator,
        _ => ResponseError::UnknownServerError,
    }
}

/// The error a membership request gets when its event could not run.
pub fn group_op_error_code(group_id: &str, e: &GroupOpError) -> ResponseError {
    match e {
        GroupOpError::NotCoordinator => ResponseError::NotCoordinator,
        GroupOpError::Write(w) => {
            warn!(group = group_id, error = ?w, "group write failed");
            write_error_code(w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_reach_their_parked_request_once() {
        let waiters = GroupWaiters::default();
        let (j, mut jrx) = waiters.park_join();
        let (s, mut srx) = waiters.park_sync();
        assert_ne!(j, s);
        waiters.complete(Completion::Sync {
            waiter: s,
            response: SyncGroupResponse::default().with_error_code(27),
        });
        assert_eq!(srx.try_recv().unwrap().error_code, 27);
        assert!(jrx.try_recv().is_err());
        waiters.complete(Completion::Join {
            waiter: j,
            response: JoinGroupResponse::default().with_generation_id(3),
        });
        assert_eq!(jrx.try_recv().unwrap().generation_id, 3);
        // Unknown or repeated ids are ignored.
        waiters.complete(Completion::Join {
            waiter: j,
            response: JoinGroupResponse::default(),
        });
        assert!(waiters.lock().is_empty());
    }
}
