//! All shards of the group coordinator, one per `__consumer_offsets`
//! partition, and the rule that maps a group to its partition.

use std::sync::{Mutex, MutexGuard};

use crate::shard::{CoordinatorConfig, GroupCoordinatorShard};

/// Kafka's `Utils.abs(groupId.hashCode()) % partitions`: Java's
/// `String.hashCode` over UTF-16 code units, with `Utils.abs` mapping
/// `i32::MIN` to 0 (where `Math.abs` would stay negative).
///
/// Panics if `partitions` is not positive: a broken config invariant.
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    assert!(
        partitions > 0,
        "__consumer_offsets needs partitions, got {partitions}"
    );
    let hash = java_string_hash(group_id);
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs % partitions
}

/// Java's `String.hashCode()`.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The group coordinator: one [`GroupCoordinatorShard`] per
/// `__consumer_offsets` partition, each behind its own lock so that groups
/// of different partitions never wait for each other. Lives in the broker
/// for its whole life and is shared by every connection task. The lock is
/// the caller's serialization point: hold it from building an event's
/// records until they are written and applied.
#[derive(Debug)]
pub struct GroupCoordinator {
    shards: Vec<Mutex<GroupCoordinatorShard>>,
}

impl GroupCoordinator {
    /// A coordinator for `partitions` partitions, all empty.
    pub fn new(config: CoordinatorConfig, partitions: i32) -> GroupCoordinator {
        assert!(
            partitions > 0,
            "__consumer_offsets needs partitions, got {partitions}"
        );
        GroupCoordinator {
            shards: (0..partitions)
                .map(|p| Mutex::new(GroupCoordinatorShard::new(p, config)))
                .collect(),
        }
    }

    /// The partition count of `__consumer_offsets` this coordinator maps groups onto.
    pub fn partitions(&self) -> i32 {
        self.shards.len() as i32
    }

    /// The `__consumer_offsets` partition that coordinates `group_id`.
    pub fn partition_for(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.partitions())
    }

    /// Locks one shard. Panics on a partition outside `0..partitions()`.
    pub fn shard(&self, partition: i32) -> MutexGuard<'_, GroupCoordinatorShard> {
        let shard = usize::try_from(partition)
            .ok()
            .and_then(|p| self.shards.get(p))
            .unwrap_or_else(|| panic!("no coordinator shard for partition {partition}"));
        // A panic while holding the lock means a shard invariant broke.
        shard.lock().expect("coordinator shard lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_known_values() {
        // Values of "…".hashCode() in Java.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("my-group"), -1_906_497_762);
        // Non-ASCII hashes UTF-16 units, not UTF-8 bytes; "é" is U+00E9.
        assert_eq!(java_string_hash("é"), 0xe9);
        // A supplementary character is a surrogate pair in Java.
        assert_eq!(java_string_hash("😀"), 0xd83d * 31 + 0xde00);
    }

    #[test]
    fn utils_abs_maps_min_value_to_zero() {
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE in Java.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
    }

    #[test]
    fn partition_is_abs_hash_mod_count() {
        // "hello": 99162322 % 50 = 22.
        assert_eq!(partition_for("hello", 50), 22);
        // Values computed with Java's own String.hashCode and Utils.abs.
        assert_eq!(partition_for("my-group", 50), 12);
        assert_eq!(partition_for("😀", 50), 49);
        for g in ["", "a", "my-group", "rdkafka", "ü"] {
            let p = partition_for(g, 50);
            assert!((0..50).contains(&p), "{g}: {p}");
        }
    }

    #[test]
    fn shards_are_independent() {
        let c = GroupCoordinator::new(CoordinatorConfig::default(), 3);
        assert_eq!(c.partitions(), 3);
        let a = c.shard(0);
        let b = c.shard(1);
        assert_eq!((a.partition(), b.partition()), (0, 1));
    }
}
