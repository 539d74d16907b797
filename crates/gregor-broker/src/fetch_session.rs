//! Incremental fetch sessions (KIP-227).
//!
//! A client opens a session with a full fetch (epoch 0); the broker
//! remembers the partitions and their fetch positions, and later fetches
//! (epoch 1, 2, …) carry only changed partitions, while responses carry only
//! partitions with new data or changed offsets.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use rand::Rng;
use uuid::Uuid;

/// Sessions cached at once (Kafka's `max.incremental.fetch.session.cache.slots` default).
pub const FETCH_SESSION_SLOTS_MAX: usize = 1000;

/// A partition in a session, identified by topic id (v13+) or name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub topic_id: Uuid,
    pub topic: String,
    pub partition: i32,
}

/// What the session remembers about a partition: the client's position and
/// what the last response told it, to decide whether to tell it again.
#[derive(Debug, Clone)]
pub struct SessionPartition {
    pub key: SessionKey,
    pub fetch_offset: i64,
    pub max_bytes: i32,
    pub current_leader_epoch: i32,
    pub last_high_watermark: i64,
    pub last_log_start_offset: i64,
}

impl SessionPartition {
    pub fn new(
        key: SessionKey,
        fetch_offset: i64,
        max_bytes: i32,
        current_leader_epoch: i32,
    ) -> SessionPartition {
        SessionPartition {
            key,
            fetch_offset,
            max_bytes,
            current_leader_epoch,
            last_high_watermark: -1,
            last_log_start_offset: -1,
        }
    }
}

struct Session {
    /// Epoch the next request must carry.
    next_epoch: i32,
    /// Partitions in the order the client first listed them.
    partitions: Vec<SessionPartition>,
    last_used: Instant,
}

/// Why an incremental fetch cannot use its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    NotFound,
    InvalidEpoch,
}

/// All sessions of this broker. Requests lock it briefly at the start of a
/// fetch (to resolve partitions) and at its end (to record what was sent).
pub struct FetchSessionCache {
    sessions: Mutex<HashMap<i32, Session>>,
    slots_max: usize,
}

impl FetchSessionCache {
    pub fn new(slots_max: usize) -> FetchSessionCache {
        FetchSessionCache {
            sessions: Mutex::new(HashMap::new()),
            slots_max,
        }
    }

    /// Forgets a session (a full fetch that names an old session closes it).
    pub fn remove(&self, id: i32) {
        self.sessions
            .lock()
            .expect("fetch sessions lock")
            .remove(&id);
    }

    /// Opens a session over `partitions`; returns its id, or 0 when the
    /// cache is full of sessions used more recently than any could be evicted.
    pub fn create(&self, partitions: Vec<SessionPartition>) -> i32 {
        let mut sessions = self.sessions.lock().expect("fetch sessions lock");
        if sessions.len() >= self.slots_max {
            // Evict the least recently used session, as Kafka's cache does
            // for sessions of equal privilege.
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| *id)
            {
                sessions.remove(&oldest);
            }
        }
        let mut rng = rand::rng();
        let id = loop {
            let id: i32 = rng.random_range(1..i32::MAX);
            if !sessions.contains_key(&id) {
                break id;
            }
        };
        sessions.insert(
            id,
            Session {
                next_epoch: 1,
                partitions,
                last_used: Instant::now(),
            },
        );
        id
    }

    /// Applies an incremental request to session `id` at `epoch`: adds or
    /// updates `updates`, drops `forgotten`, and returns every partition of
    /// the session, in session order.
    pub fn update(
        &self,
        id: i32,
        epoch: i32,
        updates: Vec<SessionPartition>,
        forgotten: &[SessionKey],
    ) -> Result<Vec<SessionPartition>, SessionError> {
        let mut sessions = self.sessions.lock().expect("fetch sessions lock");
        let session = sessions.get_mut(&id).ok_or(SessionError::NotFound)?;
        if session.next_epoch != epoch {
            return Err(SessionError::InvalidEpoch);
        }
        session.partitions.retain(|p| !forgotten.contains(&p.key));
        for u in updates {
            match session.partitions.iter_mut().find(|p| p.key == u.key) {
                Some(p) => {
                    p.fetch_offset = u.fetch_offset;
                    p.max_bytes = u.max_bytes;
                    p.current_leader_epoch = u.current_leader_epoch;
                }
                None => session.partitions.push(u),
            }
        }
        session.next_epoch = next_epoch(epoch);
        session.last_used = Instant::now();
        Ok(session.partitions.clone())
    }

    /// Records what a response told the client, so the next incremental
    /// response can leave out partitions where nothing changed.
    pub fn record_sent(&self, id: i32, sent: &[(SessionKey, i64, i64)]) {
        let mut sessions = self.sessions.lock().expect("fetch sessions lock");
        let Some(session) = sessions.get_mut(&id) else {
            return;
        };
        for (key, hw, log_start) in sent {
            if let Some(p) = session.partitions.iter_mut().find(|p| &p.key == key) {
                p.last_high_watermark = *hw;
                p.last_log_start_offset = *log_start;
            }
        }
    }
}

/// Session epochs wrap from i32::MAX back to 1 (0 and -1 are reserved).
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: i32) -> SessionKey {
        SessionKey {
            topic_id: Uuid::nil(),
            topic: "t".into(),
            partition: p,
        }
    }

    #[test]
    fn incremental_updates_follow_epochs() {
        let cache = FetchSessionCache::new(10);
        let id = cache.create(vec![SessionPartition::new(key(0), 0, 100, -1)]);
        assert_ne!(id, 0);
        assert_eq!(
            cache.update(id, 2, vec![], &[]).unwrap_err(),
            SessionError::InvalidEpoch
        );
        let parts = cache
            .update(id, 1, vec![SessionPartition::new(key(1), 5, 100, -1)], &[])
            .unwrap();
        assert_eq!(parts.len(), 2);
        let parts = cache
            .update(
                id,
                2,
                vec![SessionPartition::new(key(0), 7, 100, -1)],
                &[key(1)],
            )
            .unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].fetch_offset, 7);
        assert_eq!(
            cache.update(99, 1, vec![], &[]).unwrap_err(),
            SessionError::NotFound
        );
        cache.remove(id);
        assert_eq!(
            cache.update(id, 3, vec![], &[]).unwrap_err(),
            SessionError::NotFound
        );
    }

    #[test]
    fn full_cache_evicts_least_recently_used() {
        let cache = FetchSessionCache::new(2);
        let a = cache.create(vec![]);
        let b = cache.create(vec![]);
        cache.update(a, 1, vec![], &[]).unwrap();
        let c = cache.create(vec![]);
        assert!(cache.update(b, 1, vec![], &[]).is_err());
        assert!(cache.update(a, 2, vec![], &[]).is_ok());
        assert!(cache.update(c, 1, vec![], &[]).is_ok());
    }

    #[test]
    fn epochs_wrap_past_max() {
        assert_eq!(next_epoch(i32::MAX), 1);
        assert_eq!(next_epoch(1), 2);
    }
}
