//! Per-partition log settings, named after Kafka's topic configs.

pub use gregor_protocol::batch::TimestampType;

/// Settings of one partition's log. Built by the broker from topic
/// overrides and broker defaults; the log never reads configuration itself.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll before a segment would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first batch is older.
    pub segment_ms: i64,
    /// `index.interval.bytes`: appended bytes between sparse index entries.
    pub index_interval_bytes: u64,
    /// `flush.messages`: fsync after this many unflushed records.
    pub flush_interval_messages: u64,
    /// `flush.ms`: `flush_if_due` fsyncs when the last flush is this old.
    pub flush_interval_ms: i64,
    /// `max.message.bytes`: the largest batch accepted, header included.
    pub max_message_bytes: usize,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `segment.index.bytes`: the most an index may hold before a roll.
    pub segment_index_bytes: u64,
    /// `cleanup.policy` includes `delete`: retention by time and size applies.
    pub cleanup_delete: bool,
    /// `cleanup.policy` includes `compact`: the cleaner keeps the latest
    /// record per key.
    pub cleanup_compact: bool,
    /// `retention.ms`: a segment whose largest timestamp is older than this
    /// is deleted; negative keeps data forever.
    pub retention_ms: i64,
    /// `retention.bytes`: oldest segments are deleted while the log is
    /// larger than this by at least their size; negative means no limit.
    pub retention_bytes: i64,
    /// `min.cleanable.dirty.ratio`: share of the cleanable bytes that must
    /// be dirty (never cleaned) before the cleaner rewrites the log.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: a record stays uncompacted at least this long.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty record older than this makes the
    /// log cleanable whatever its dirty ratio.
    pub max_compaction_lag_ms: i64,
    /// `delete.retention.ms`: how long a tombstone survives after the
    /// cleaner first saw it (the delete horizon stamped on its batch).
    pub delete_retention_ms: i64,
}

/// Kafka's `segment.bytes` is an int: positions in a segment and in its
/// index entries are 32-bit, so a segment never grows past this.
pub const SEGMENT_BYTES_MAX: u64 = i32::MAX as u64;

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            index_interval_bytes: 4096,
            flush_interval_messages: u64::MAX,
            flush_interval_ms: i64::MAX,
            max_message_bytes: 1_048_588,
            message_timestamp_type: TimestampType::CreateTime,
            segment_index_bytes: 10 << 20,
            cleanup_delete: true,
            cleanup_compact: false,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 24 * 60 * 60 * 1000,
        }
    }
}

impl LogConfig {
    /// `segment_bytes` clamped to what 32-bit positions can address.
    pub(crate) fn segment_bytes_effective(&self) -> u64 {
        self.segment_bytes.min(SEGMENT_BYTES_MAX)
    }

    /// The age at which the active segment rolls: `segment.ms`, or for a
    /// compacted log `max.compaction.lag.ms` if shorter, so that no record
    /// waits in the (uncleanable) active segment past that lag (Kafka's
    /// `LogConfig.maxSegmentMs`).
    pub(crate) fn max_segment_ms(&self) -> i64 {
        if self.cleanup_compact && self.max_compaction_lag_ms > 0 {
            self.segment_ms.min(self.max_compaction_lag_ms)
        } else {
            self.segment_ms
        }
    }
}
