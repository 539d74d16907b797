//! Per-partition log settings, named after Kafka's topic configs.

pub use gregor_protocol::batch::TimestampType;

/// Settings of one partition's log. Built by the broker from topic
/// overrides and broker defaults; the log never reads configuration itself.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        }
    }
}

impl LogConfig {
    /// `segment_bytes` clamped to what 32-bit positions can address.
    pub(crate) fn segment_bytes_effective(&self) -> u64 {
        self.segment_bytes.min(SEGMENT_BYTES_MAX)
    }
}
