//! Retention: Kafka's `UnifiedLog.deleteOldSegments`. Whole segments go,
//! oldest first, when they are past `retention.ms` (by their largest
//! timestamp), while the log is over `retention.bytes`, or when they lie
//! wholly below the log start offset. The log start offset moves durably
//! (checkpoint) before any file is removed, and the files are unlinked by
//! the caller after it has let go of the partition's lock.

use tracing::info;

use crate::error::LogError;
use crate::log::Log;
use crate::segment::Segment;
use crate::storage::Storage;

/// Segments taken out of a log by retention, whose files are still on
/// disk. [`DeletedSegments::delete_files`] removes them; until then (or if
/// the process dies first) the checkpointed log start offset already hides
/// them, and the next open deletes them. Fetches that still hold slices of
/// these files keep reading them through their open handles.
#[must_use = "the segments' files stay on disk until delete_files runs"]
pub struct DeletedSegments {
    storage: std::sync::Arc<dyn Storage>,
    segments: Vec<Segment>,
}

impl DeletedSegments {
    pub fn count(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Base offsets of the deleted segments, oldest first.
    pub fn base_offsets(&self) -> Vec<i64> {
        self.segments.iter().map(Segment::base_offset).collect()
    }

    /// Unlinks the segments' files. Safe to run without the log's lock:
    /// the names are no longer the log's.
    pub fn delete_files(self) -> Result<(), LogError> {
        for segment in &self.segments {
            segment
                .delete_files(&*self.storage)
                .map_err(LogError::io(format!(
                    "delete segment {}",
                    segment.base_offset()
                )))?;
        }
        Ok(())
    }
}

/// Why a segment is deletable; Kafka's three predicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    LogStartOffset,
    RetentionBytes,
    RetentionMs,
}

impl Log {
    /// Takes out every segment retention says must go, as of `now_ms`:
    /// those below the log start offset always, and with
    /// `cleanup.policy=delete` those past `retention.bytes` and then
    /// `retention.ms`. When every segment is due, the active one is rolled
    /// first so that the log keeps an (empty) active segment, as Kafka
    /// does. The returned segments' files must be removed by the caller.
    pub fn delete_old_segments(&mut self, now_ms: i64) -> Result<DeletedSegments, LogError> {
        self.check_healthy()?;
        let mut deleted = Vec::new();
        let mut reasons = vec![Reason::LogStartOffset];
        if self.config.cleanup_delete {
            reasons.extend([Reason::RetentionBytes, Reason::RetentionMs]);
        }
        for reason in reasons {
            let count = self.deletable_count(reason, now_ms);
            if count == 0 {
                continue;
            }
            if count == self.segments.len() {
                // The active segment is due too: roll so the log keeps one.
                self.roll(now_ms)?;
            }
            let taken: Vec<Segment> = self.segments.drain(..count).collect();
            let next_base = self.segments[0].base_offset();
            if next_base > self.log_start_offset {
                self.log_start_offset = next_base;
            }
            self.write_checkpoint()?;
            self.truncate_epochs_below_start()?;
            info!(
                ?reason,
                segments = taken.len(),
                log_start_offset = self.log_start_offset,
                "retention deleted segments"
            );
            deleted.extend(taken);
        }
        Ok(DeletedSegments {
            storage: self.storage.clone(),
            segments: deleted,
        })
    }

    /// How many segments, oldest first, the predicate of `reason` deletes
    /// (Kafka's `LocalLog.deletableSegments`): it stops at the first
    /// segment that does not qualify, and never counts an empty active one.
    fn deletable_count(&self, reason: Reason, now_ms: i64) -> usize {
        let mut size_over = self.size_bytes() as i64 - self.config.retention_bytes;
        let mut count = 0;
        for (i, segment) in self.segments.iter().enumerate() {
            let next = self.segments.get(i + 1);
            if next.is_none() && segment.size() == 0 {
                break;
            }
            let due = match reason {
                Reason::LogStartOffset => {
                    next.is_some_and(|n| n.base_offset() <= self.log_start_offset)
                }
                Reason::RetentionBytes => {
                    let size = segment.size() as i64;
                    let due = self.config.retention_bytes >= 0 && size_over - size >= 0;
                    if due {
                        size_over -= size;
                    }
                    due
                }
                Reason::RetentionMs => {
                    self.config.retention_ms >= 0
                        && now_ms.saturating_sub(segment.largest_timestamp())
                            > self.config.retention_ms
                }
            };
            if !due {
                break;
            }
            count += 1;
        }
        count
    }
}
