//! Reading a [`Log`]: fetch by offset and ListOffsets by timestamp.

use gregor_protocol::batch::BatchHeader;

use crate::error::{LogError, ReadError};
use crate::log::{Log, ReadResult, SlicedRead};
use crate::txn_index::AbortedTxn;

impl Log {
    /// Fetch: whole batches from the one holding `fetch_offset` (which may
    /// start before it, as in Kafka), in offset order, up to `max_bytes`
    /// in total, none reaching `max_offset_exclusive` (the high watermark).
    /// With `min_one_batch` the first batch is returned even if larger than
    /// `max_bytes`. A fetch at the log end offset is empty; one below the
    /// log start or past the end is out of range. The batches are named as
    /// slices of the segment files, not read: see [`FileSlice`](crate::FileSlice).
    pub fn read_slices(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        max_offset_exclusive: i64,
        min_one_batch: bool,
    ) -> Result<SlicedRead, ReadError> {
        self.check_healthy()?;
        let (log_start_offset, log_end_offset) = (self.log_start_offset, self.log_end_offset());
        if fetch_offset < log_start_offset || fetch_offset > log_end_offset {
            return Err(ReadError::OffsetOutOfRange {
                offset: fetch_offset,
                log_start_offset,
                log_end_offset,
            });
        }
        let mut result = SlicedRead {
            slices: Vec::new(),
            bytes: 0,
            log_start_offset,
            log_end_offset,
        };
        if fetch_offset >= log_end_offset || fetch_offset >= max_offset_exclusive {
            return Ok(result);
        }
        let Some((mut index, mut position, first)) = self.locate(fetch_offset)? else {
            return Ok(result);
        };
        let io = |base: i64| LogError::io(format!("read segment {base}"));
        let mut first_header = Some(first);
        loop {
            let segment = &self.segments[index];
            let oversize = if min_one_batch && result.bytes == 0 {
                first_header.as_ref()
            } else {
                None
            };
            let budget = max_bytes.saturating_sub(result.bytes);
            let (slice, stopped) = segment
                .slice_batches(position, budget, max_offset_exclusive, oversize)
                .map_err(io(segment.base_offset()))?;
            if let Some(slice) = slice {
                result.bytes += slice.len();
                result.slices.push(slice);
            }
            index += 1;
            let Some(next) = self.segments.get(index).filter(|_| !stopped) else {
                return Ok(result);
            };
            position = 0;
            first_header = if min_one_batch && result.bytes == 0 {
                next.header_at(0).map_err(io(next.base_offset()))?
            } else {
                None
            };
        }
    }

    /// For a `read_committed` fetch of `[fetch_offset, upper_bound_offset)`
    /// (the broker caps such reads at the last stable offset): the aborted
    /// transactions whose data may lie in that range, oldest marker first,
    /// as Kafka's `collectAbortedTransactions` finds them: every entry with
    /// `last_offset >= fetch_offset` and `first_offset < upper_bound_offset`
    /// in the transaction indexes from the segment holding `fetch_offset`
    /// on, stopping after an entry whose last stable offset reaches the
    /// bound. The fetch response lists `(producer_id, first_offset)`.
    pub fn aborted_transactions(
        &self,
        fetch_offset: i64,
        upper_bound_offset: i64,
    ) -> Vec<AbortedTxn> {
        let mut found = Vec::new();
        let first = self.segment_index(fetch_offset);
        for segment in &self.segments[first..] {
            if segment
                .txn_index()
                .collect(fetch_offset, upper_bound_offset, &mut found)
            {
                break;
            }
        }
        found
    }

    /// [`Log::read_slices`], with the batches read into memory.
    pub fn read(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        max_offset_exclusive: i64,
        min_one_batch: bool,
    ) -> Result<ReadResult, ReadError> {
        let sliced =
            self.read_slices(fetch_offset, max_bytes, max_offset_exclusive, min_one_batch)?;
        let records = sliced
            .slices
            .iter()
            .map(|slice| {
                slice.read().map_err(|e| {
                    LogError::io(format!("read segment at {}", slice.position()))(e).into()
                })
            })
            .collect::<Result<Vec<_>, ReadError>>()?;
        Ok(ReadResult {
            records,
            bytes: sliced.bytes,
            log_start_offset: sliced.log_start_offset,
            log_end_offset: sliced.log_end_offset,
        })
    }

    /// The segment index, position and header of the batch holding
    /// `offset` or, failing that, the first batch after it.
    fn locate(&self, offset: i64) -> Result<Option<(usize, u64, BatchHeader)>, LogError> {
        let io = |base: i64| LogError::io(format!("read segment {base}"));
        let first = self.segment_index(offset);
        for (index, segment) in self.segments.iter().enumerate().skip(first) {
            let found = if index == first {
                segment
                    .find_batch(offset)
                    .map_err(io(segment.base_offset()))?
            } else {
                segment
                    .header_at(0)
                    .map_err(io(segment.base_offset()))?
                    .map(|h| (0, h))
            };
            if let Some((position, header)) = found {
                return Ok(Some((index, position, header)));
            }
        }
        Ok(None)
    }

    /// ListOffsets by timestamp: the offset and timestamp of the first
    /// record at or after the log start whose timestamp is `>= timestamp`,
    /// or `None` if there is none. Storage errors are logged and read as
    /// `None`; use [`Log::try_offset_for_timestamp`] to see them.
    ///
    /// Exact for uncompressed and LogAppendTime batches. Compressed
    /// CreateTime batches are not decompressed: the answer is the first
    /// such batch's base offset with its max timestamp.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Option<(i64, i64)> {
        self.try_offset_for_timestamp(timestamp)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, timestamp, "offset lookup by timestamp failed");
                None
            })
    }

    /// [`Log::offset_for_timestamp`], reporting storage errors.
    pub fn try_offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        self.check_healthy()?;
        for segment in &self.segments {
            let holds_candidates = segment.size() > 0
                && segment.max_timestamp() >= timestamp
                && segment.next_offset() > self.log_start_offset;
            if !holds_candidates {
                continue;
            }
            let found = segment
                .find_offset_by_timestamp(timestamp, self.log_start_offset)
                .map_err(LogError::io(format!(
                    "search segment {} by timestamp",
                    segment.base_offset()
                )))?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP: offset and timestamp of the first record
    /// carrying the largest timestamp in the log; `None` for a log without
    /// timestamped records. For a compressed CreateTime batch the batch's
    /// last offset stands in for the record's.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.try_max_timestamp().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "max timestamp lookup failed");
            None
        })
    }

    /// [`Log::max_timestamp`], reporting storage errors.
    pub fn try_max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        self.check_healthy()?;
        let mut best = None;
        for segment in self.segments.iter().filter(|s| s.size() > 0) {
            if best.is_none_or(|b: &crate::segment::Segment| {
                segment.max_timestamp() > b.max_timestamp()
            }) {
                best = Some(segment);
            }
        }
        let Some(segment) = best.filter(|s| s.max_timestamp() >= 0) else {
            return Ok(None);
        };
        segment.max_timestamp_record().map_err(LogError::io(format!(
            "search segment {} for its max timestamp",
            segment.base_offset()
        )))
    }
}
