//! Kafka 4.0's topic-level configs, sorted by name, with the broker keys
//! that supply each default (Kafka's `ServerTopicConfigSynonyms`).

use super::TopicConfigDef;
use super::Validator::*;

const MAX_LONG: &str = "9223372036854775807";
// Valid `compression.type` values, in Kafka's order.
const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];

pub(super) static TOPIC_CONFIGS: &[TopicConfigDef] = topic_table! {
    "cleanup.policy": List = "delete", ListOf(&["compact", "delete"]), ["log.cleanup.policy" Same],
        "What happens to old segments: \"delete\" removes them once past retention, \"compact\" keeps the latest record per key; both may be given.";
    "compression.gzip.level": Int = "-1", GzipLevel, ["compression.gzip.level" Same],
        "Compression level used when compression.type is gzip.";
    "compression.lz4.level": Int = "9", Between(1, 17), ["compression.lz4.level" Same],
        "Compression level used when compression.type is lz4.";
    "compression.type": String = "producer", OneOf(COMPRESSION_TYPES), ["compression.type" Same],
        "Codec the stored batches end up in: a codec name, \"uncompressed\", or \"producer\" to keep whatever the producer sent.";
    "compression.zstd.level": Int = "3", Between(-131072, 22), ["compression.zstd.level" Same],
        "Compression level used when compression.type is zstd.";
    "delete.retention.ms": Long = "86400000", AtLeast(0), ["log.cleaner.delete.retention.ms" Same],
        "How long delete tombstones stay in a compacted topic, which bounds how long a consumer reading from the start may take to see them.";
    "file.delete.delay.ms": Long = "60000", AtLeast(0), ["log.segment.delete.delay.ms" Same],
        "Delay before a segment file marked for deletion is removed from disk.";
    "flush.messages": Long = MAX_LONG, AtLeast(1), ["log.flush.interval.messages" Same],
        "Force an fsync after this many records; by default durability comes from replication and the OS flushes.";
    "flush.ms": Long = MAX_LONG, AtLeast(0), ["log.flush.interval.ms" Same, "log.flush.scheduler.interval.ms" Same],
        "Force an fsync when unflushed data is older than this many milliseconds.";
    "follower.replication.throttled.replicas": List = "", ThrottledReplicas, [],
        "Replicas whose follower-side replication is throttled: partition:broker pairs, or * for all.";
    "index.interval.bytes": Int = "4096", AtLeast(0), ["log.index.interval.bytes" Same],
        "Bytes of log between two offset index entries; smaller means finer seeks and a bigger index.";
    "leader.replication.throttled.replicas": List = "", ThrottledReplicas, [],
        "Replicas whose leader-side replication is throttled: partition:broker pairs, or * for all.";
    "local.retention.bytes": Long = "-2", AtLeast(-2), ["log.local.retention.bytes" Same],
        "With tiered storage, the local size limit before segments may be deleted locally; -2 means use retention.bytes.";
    "local.retention.ms": Long = "-2", AtLeast(-2), ["log.local.retention.ms" Same],
        "With tiered storage, how long segments stay on local disk; -2 means use retention.ms.";
    "max.compaction.lag.ms": Long = MAX_LONG, AtLeast(1), ["log.cleaner.max.compaction.lag.ms" Same],
        "Longest time a record may stay uncompacted in a compacted topic.";
    "max.message.bytes": Int = "1048588", AtLeast(0), ["message.max.bytes" Same],
        "Largest record batch the topic accepts, measured after compression.";
    "message.downconversion.enable": Boolean = "true", None, ["log.message.downconversion.enable" Same],
        "Deprecated and without effect since Kafka 4.0, which no longer down-converts records for old consumers.";
    "message.timestamp.after.max.ms": Long = "3600000", AtLeast(0), ["log.message.timestamp.after.max.ms" Same],
        "With CreateTime, how far in the future (relative to the broker clock) a record timestamp may be before the batch is rejected.";
    "message.timestamp.before.max.ms": Long = MAX_LONG, AtLeast(0), ["log.message.timestamp.before.max.ms" Same],
        "With CreateTime, how far in the past (relative to the broker clock) a record timestamp may be before the batch is rejected.";
    "message.timestamp.type": String = "CreateTime", OneOf(&["CreateTime", "LogAppendTime"]), ["log.message.timestamp.type" Same],
        "Whether stored timestamps are the producer's (CreateTime) or the broker's append time (LogAppendTime).";
    "min.cleanable.dirty.ratio": Double = "0.5", Between(0, 1), ["log.cleaner.min.cleanable.ratio" Same],
        "Share of the log that must be uncompacted before the cleaner compacts it again.";
    "min.compaction.lag.ms": Long = "0", AtLeast(0), ["log.cleaner.min.compaction.lag.ms" Same],
        "Shortest time a record stays uncompacted in a compacted topic.";
    "min.insync.replicas": Int = "1", AtLeast(1), ["min.insync.replicas" Same],
        "For acks=all produce requests, how many in-sync replicas must have the write; fewer fails the request with NOT_ENOUGH_REPLICAS.";
    "preallocate": Boolean = "false", None, ["log.preallocate" Same],
        "Preallocate a new segment file to its full size on disk when it is created.";
    "remote.log.copy.disable": Boolean = "false", None, [],
        "With tiered storage, stop copying new segments to remote storage while keeping what is there readable.";
    "remote.log.delete.on.disable": Boolean = "false", None, [],
        "With tiered storage, delete the remote data when tiering is turned off for the topic.";
    "remote.storage.enable": Boolean = "false", None, [],
        "Move older segments of this topic to remote (tiered) storage.";
    "retention.bytes": Long = "-1", None, ["log.retention.bytes" Same],
        "Largest size a partition may grow to before old segments are deleted (delete policy only); -1 means no limit.";
    "retention.ms": Long = "604800000", AtLeast(-1), ["log.retention.ms" Same, "log.retention.minutes" Minutes, "log.retention.hours" Hours],
        "How long records are kept before their segment may be deleted (delete policy only); -1 means forever.";
    // Kafka 4.0 raised only the broker key's minimum to 1 MiB (KIP-1030);
    // the topic key keeps the old floor, one v0 record's overhead (14),
    // which clients' test suites rely on to roll small segments.
    "segment.bytes": Int = "1073741824", AtLeast(14), ["log.segment.bytes" Same],
        "Size at which the active segment file is closed and a new one started.";
    "segment.index.bytes": Int = "10485760", AtLeast(4), ["log.index.size.max.bytes" Same],
        "Size of the preallocated offset index of each segment.";
    "segment.jitter.ms": Long = "0", AtLeast(0), ["log.roll.jitter.ms" Same, "log.roll.jitter.hours" Hours],
        "Largest random amount taken off segment.ms so that many partitions do not roll at once.";
    "segment.ms": Long = "604800000", AtLeast(1), ["log.roll.ms" Same, "log.roll.hours" Hours],
        "Age after which the active segment is rolled even if not full, so retention and compaction can act on it.";
    "unclean.leader.election.enable": Boolean = "false", None, ["unclean.leader.election.enable" Same],
        "Allow a replica outside the ISR to become leader as a last resort, at the price of possible data loss.";
};
