//! One segment: `<base>.log` plus its `.index` and `.timeindex`, and a
//! `.txnindex` once a transaction is aborted in it (see `txn_index.rs`).
//! Owned by the `Log`; only the last (active) segment is ever appended to.

use std::io;
use std::sync::Arc;

use gregor_protocol::batch::{
    BatchHeader, Compression, RecordIter, TimestampType, BATCH_HEADER_BYTES, NO_TIMESTAMP,
};
use tracing::warn;

use crate::config::{LogConfig, SEGMENT_BYTES_MAX};
use crate::index::{IndexFile, OffsetEntry, TimeEntry};
use crate::log::PlacedBatch;
use crate::scanner::{
    BatchScanner, Scanned, HEADER_SCAN_BLOCK_BYTES, RECOVERY_SCAN_BLOCK_BYTES,
    SLICE_SCAN_BLOCK_BYTES,
};
use crate::slice::FileSlice;
use crate::storage::{SegmentFile, SharedFile, Storage};
use crate::txn_index::{TxnIndex, TXN_INDEX_SUFFIX};

pub(crate) const LOG_SUFFIX: &str = ".log";
pub(crate) const INDEX_SUFFIX: &str = ".index";
pub(crate) const TIME_INDEX_SUFFIX: &str = ".timeindex";
/// Width of the zero-padded base offset in file names, as Kafka.
const FILE_NAME_DIGITS: usize = 20;
/// Opens an index file, or creates it empty and notes in `problem` that it
/// was missing, so the caller rebuilds it.
fn open_index<E: crate::index::IndexEntry>(
    storage: &Arc<dyn Storage>,
    name: String,
    max_index_bytes: u64,
    problem: &mut Option<String>,
) -> io::Result<IndexFile<E>> {
    match IndexFile::open(storage.clone(), name.clone(), max_index_bytes) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            *problem = Some(format!("{name} is missing"));
            IndexFile::create(storage.clone(), name, max_index_bytes)
        }
        other => other,
    }
}

/// Relative offsets are 32-bit signed in Kafka's index format.
const RELATIVE_OFFSET_MAX: i64 = i32::MAX as i64;

/// `<20-digit offset><suffix>`.
pub(crate) fn file_name(offset: i64, suffix: &str) -> String {
    format!("{offset:0width$}{suffix}", width = FILE_NAME_DIGITS)
}

/// The offset in a `<20-digit offset><suffix>` name.
pub(crate) fn parse_file_name(name: &str, suffix: &str) -> Option<i64> {
    let stem = name.strip_suffix(suffix)?;
    if stem.len() != FILE_NAME_DIGITS || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// What the segment knows about its contents; restored as a whole when a
/// failed append is undone.
#[derive(Debug, Clone, Copy)]
struct SegmentState {
    next_offset: i64,
    max_timestamp: i64,
    /// Last offset of the first batch that carried `max_timestamp`.
    offset_of_max_timestamp: i64,
    /// Max timestamp of the first batch, which time-based rolling counts from.
    first_batch_timestamp: Option<i64>,
    bytes_since_last_index_entry: u64,
    /// Timestamp of the newest time-index entry, written or pending.
    last_time_entry_timestamp: i64,
}

impl SegmentState {
    fn empty(base_offset: i64) -> SegmentState {
        SegmentState {
            next_offset: base_offset,
            max_timestamp: NO_TIMESTAMP,
            offset_of_max_timestamp: base_offset,
            first_batch_timestamp: None,
            bytes_since_last_index_entry: 0,
            last_time_entry_timestamp: NO_TIMESTAMP,
        }
    }

    /// Accounts for a batch at `position`; returns the index entries it
    /// earns. Like Kafka's `LogSegment.append`, an entry is due when more
    /// than `index.interval.bytes` were appended since the last one, and it
    /// points at the start of the batch that crossed the line.
    fn track(
        &mut self,
        base: i64,
        interval: u64,
        position: u64,
        h: &BatchHeader,
    ) -> Option<(OffsetEntry, Option<TimeEntry>)> {
        if position == 0 {
            self.first_batch_timestamp = Some(h.max_timestamp);
        }
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        let mut entries = None;
        if self.bytes_since_last_index_entry > interval {
            let offset_entry = OffsetEntry {
                relative_offset: relative(base, h.last_offset()),
                position: position as u32,
            };
            let time_entry = (self.max_timestamp > self.last_time_entry_timestamp).then(|| {
                self.last_time_entry_timestamp = self.max_timestamp;
                TimeEntry {
                    timestamp: self.max_timestamp,
                    relative_offset: relative(base, self.offset_of_max_timestamp),
                }
            });
            entries = Some((offset_entry, time_entry));
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += h.total_bytes() as u64;
        self.next_offset = h.next_offset();
        entries
    }
}

/// Whether a batch read from disk may follow `next_offset` in the segment
/// based at `base`. Base offsets lie outside the CRC, so they are checked
/// with arithmetic that cannot overflow.
fn offsets_in_order(base: i64, next_offset: i64, h: &BatchHeader) -> bool {
    h.base_offset >= next_offset
        && h.last_offset() >= h.base_offset
        && h.last_offset().saturating_sub(base) <= RELATIVE_OFFSET_MAX
}

fn relative(base: i64, offset: i64) -> u32 {
    offset.saturating_sub(base).clamp(0, RELATIVE_OFFSET_MAX) as u32
}

/// Outcome of a positioned lookup.
enum Lookup {
    Found(u64, BatchHeader),
    NotFound,
    /// The index pointed somewhere that is not a batch at or before the target.
    BadStart,
}

/// A write that failed; `undone` says whether the segment is back to its
/// state before the write (if not, the log must go offline).
#[derive(Debug)]
pub(crate) struct SegmentWriteError {
    pub error: io::Error,
    pub undone: bool,
}

pub(crate) struct Segment {
    base_offset: i64,
    log: Box<dyn SegmentFile>,
    offset_index: IndexFile<OffsetEntry>,
    time_index: IndexFile<TimeEntry>,
    txn_index: TxnIndex,
    state: SegmentState,
    created_ms: i64,
    index_interval_bytes: u64,
}

impl Segment {
    pub fn create(
        storage: &Arc<dyn Storage>,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> io::Result<Segment> {
        let name = |suffix: &str| file_name(base_offset, suffix);
        Segment::create_named(storage, base_offset, name, "", config, now_ms)
    }

    /// Creates the `.cleaned` files the cleaner writes a segment into; the
    /// swap renames them to the segment's own names (the log file's handle
    /// stays valid across the rename; the indexes learn their new names
    /// from [`Segment::renamed_to_final`]).
    pub fn create_cleaned(
        storage: &Arc<dyn Storage>,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> io::Result<Segment> {
        let name = |suffix: &str| {
            format!(
                "{}{}",
                file_name(base_offset, suffix),
                crate::cleaner::CLEANED_SUFFIX
            )
        };
        Segment::create_named(
            storage,
            base_offset,
            name,
            crate::cleaner::CLEANED_SUFFIX,
            config,
            now_ms,
        )
    }

    fn create_named(
        storage: &Arc<dyn Storage>,
        base_offset: i64,
        name: impl Fn(&str) -> String,
        txn_suffix: &str,
        config: &LogConfig,
        now_ms: i64,
    ) -> io::Result<Segment> {
        let log = storage.create(&name(LOG_SUFFIX))?;
        let max = config.segment_index_bytes;
        let offset_index = IndexFile::create(storage.clone(), name(INDEX_SUFFIX), max)?;
        let time_index = IndexFile::create(storage.clone(), name(TIME_INDEX_SUFFIX), max)?;
        let txn_index = TxnIndex::absent(base_offset, txn_suffix);
        Ok(Segment::assemble(
            base_offset,
            log,
            offset_index,
            time_index,
            txn_index,
            config,
            now_ms,
        ))
    }

    /// Opens an existing segment. Missing index files are created empty and
    /// reported, so the caller rebuilds them.
    pub fn open(
        storage: &Arc<dyn Storage>,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> io::Result<(Segment, Option<String>)> {
        let log = storage.open(&file_name(base_offset, LOG_SUFFIX))?;
        let max = config.segment_index_bytes;
        let mut problem = None;
        let offset_index = open_index(
            storage,
            file_name(base_offset, INDEX_SUFFIX),
            max,
            &mut problem,
        )?;
        let time_index = open_index(
            storage,
            file_name(base_offset, TIME_INDEX_SUFFIX),
            max,
            &mut problem,
        )?;
        let (txn_index, txn_problem) = TxnIndex::open(&**storage, base_offset)?;
        problem = problem.or(txn_problem.err());
        let segment = Segment::assemble(
            base_offset,
            log,
            offset_index,
            time_index,
            txn_index,
            config,
            now_ms,
        );
        Ok((segment, problem))
    }

    fn assemble(
        base_offset: i64,
        log: Box<dyn SegmentFile>,
        offset_index: IndexFile<OffsetEntry>,
        time_index: IndexFile<TimeEntry>,
        txn_index: TxnIndex,
        config: &LogConfig,
        now_ms: i64,
    ) -> Segment {
        Segment {
            base_offset,
            log,
            offset_index,
            time_index,
            txn_index,
            state: SegmentState::empty(base_offset),
            created_ms: now_ms,
            index_interval_bytes: config.index_interval_bytes,
        }
    }

    /// A cleaned segment's files now carry the segment's own names.
    pub fn renamed_to_final(&mut self) {
        let base = self.base_offset;
        self.offset_index.renamed(file_name(base, INDEX_SUFFIX));
        self.time_index.renamed(file_name(base, TIME_INDEX_SUFFIX));
        self.txn_index.renamed(base);
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub fn next_offset(&self) -> i64 {
        self.state.next_offset
    }

    pub fn size(&self) -> u64 {
        self.log.len()
    }

    pub fn max_timestamp(&self) -> i64 {
        self.state.max_timestamp
    }

    /// Kafka's `LogSegment.largestTimestamp`: the largest record timestamp,
    /// or for a segment without timestamps the time it was created or
    /// opened (Kafka uses the file's modification time).
    pub fn largest_timestamp(&self) -> i64 {
        if self.state.max_timestamp >= 0 {
            self.state.max_timestamp
        } else {
            self.created_ms
        }
    }

    /// The max timestamp of the first batch, if the segment has one.
    pub fn first_batch_timestamp(&self) -> Option<i64> {
        self.state.first_batch_timestamp.filter(|t| *t >= 0)
    }

    /// Checks the index files: whole entries, sorted, inside the log file.
    /// `full` reads every entry; otherwise first and last only.
    pub fn check_indexes(&self, full: bool) -> io::Result<Option<String>> {
        let size = self.log.len();
        let offsets = self.offset_index.check(full, |e| {
            i64::from(e.relative_offset) <= RELATIVE_OFFSET_MAX && u64::from(e.position) < size
        })?;
        if let Err(reason) = offsets {
            return Ok(Some(format!("offset index: {reason}")));
        }
        let times = self.time_index.check(full, |e| {
            i64::from(e.relative_offset) <= RELATIVE_OFFSET_MAX
        })?;
        Ok(times.err().map(|reason| format!("time index: {reason}")))
    }

    /// Learns the next offset and max timestamp of a cleanly closed segment
    /// by walking headers from the last offset-index entry, as Kafka's
    /// `readNextOffset` does. `Some(reason)` means the tail or the indexes
    /// are inconsistent and the segment must be recovered instead.
    pub fn load(&mut self) -> io::Result<Option<String>> {
        let base = self.base_offset;
        let mut state = SegmentState::empty(base);
        if let Some(t) = self.time_index.last() {
            state.max_timestamp = t.timestamp;
            state.offset_of_max_timestamp = base.saturating_add(i64::from(t.relative_offset));
            state.last_time_entry_timestamp = t.timestamp;
        }
        if let Err(problem) = self.scan_tail(&mut state)? {
            return Ok(Some(problem));
        }
        if let Some(problem) = self.index_bounds_problem(&state) {
            return Ok(Some(problem));
        }
        if !self.log.is_empty() {
            let mut head = [0u8; BATCH_HEADER_BYTES];
            self.log.read_exact_at(0, &mut head)?;
            state.first_batch_timestamp = BatchHeader::parse(&head).ok().map(|h| h.max_timestamp);
        }
        self.state = state;
        Ok(None)
    }

    /// Walks the batches after the last offset-index entry into `state`.
    /// `Err(reason)` when they are torn, out of order, or disagree with
    /// the index.
    fn scan_tail(&self, state: &mut SegmentState) -> io::Result<Result<(), String>> {
        let base = self.base_offset;
        let index_last = self.offset_index.last();
        let start = index_last.map_or(0, |e| u64::from(e.position));
        let indexed =
            index_last.map_or(base, |e| base.saturating_add(i64::from(e.relative_offset)));
        let mut scanner = BatchScanner::new(&*self.log, start, HEADER_SCAN_BLOCK_BYTES);
        let mut first = true;
        loop {
            let (position, header) = match scanner.next_header()? {
                Scanned::Batch { position, header } => (position, header),
                Scanned::End => return Ok(Ok(())),
                Scanned::Invalid { position, error } => {
                    return Ok(Err(format!("batch at {position}: {error}")))
                }
            };
            if first && start > 0 && header.base_offset > indexed {
                return Ok(Err(format!(
                    "offset index points at {position}, past offset {indexed}"
                )));
            }
            first = false;
            if !offsets_in_order(base, state.next_offset, &header) {
                return Ok(Err(format!("batch at {position} has offsets out of order")));
            }
            if index_last.is_none() && position > self.index_interval_bytes {
                return Ok(Err(format!(
                    "offset index is empty but the batch at {position} earned an entry"
                )));
            }
            if header.max_timestamp > state.max_timestamp {
                state.max_timestamp = header.max_timestamp;
                state.offset_of_max_timestamp = header.last_offset();
            }
            state.next_offset = header.next_offset();
        }
    }

    /// Index entries must lie below the segment's next offset, and a
    /// sealed segment's time index holds its max timestamp.
    fn index_bounds_problem(&self, state: &SegmentState) -> Option<String> {
        let base = self.base_offset;
        let beyond = |relative: u32| base.saturating_add(i64::from(relative)) >= state.next_offset;
        if self
            .offset_index
            .last()
            .is_some_and(|e| beyond(e.relative_offset))
        {
            return Some("offset index runs past the end of the log".into());
        }
        if self
            .time_index
            .last()
            .is_some_and(|t| beyond(t.relative_offset))
        {
            return Some("time index runs past the end of the log".into());
        }
        // Sealing leaves every closed segment's max timestamp in its time
        // index, so an empty one beside timestamped batches was damaged.
        let has_timestamps = self.offset_index.entries() > 0 || state.max_timestamp > NO_TIMESTAMP;
        if self.time_index.entries() == 0 && has_timestamps {
            return Some("time index is empty but the segment has timestamps".into());
        }
        None
    }

    /// Validates every batch (CRC, framing, monotonic offsets), truncates
    /// at the first bad one and rebuilds both indexes. Returns the number
    /// of bytes cut off.
    pub fn recover(&mut self) -> io::Result<u64> {
        // Rebuilt by the log's producer-state replay, which knows the
        // ongoing transactions an abort marker ends.
        self.txn_index.reset()?;
        self.offset_index.truncate_entries(0)?;
        self.time_index.truncate_entries(0)?;
        let base = self.base_offset;
        let mut state = SegmentState::empty(base);
        let (mut offset_entries, mut time_entries) = (Vec::new(), Vec::new());
        let size = self.log.len();
        let mut valid_end = 0u64;
        let mut scanner = BatchScanner::new(&*self.log, 0, RECOVERY_SCAN_BLOCK_BYTES);
        loop {
            match scanner.next_validated()? {
                Scanned::Batch { position, header } => {
                    let end = scanner.position();
                    let in_order = offsets_in_order(base, state.next_offset, &header)
                        && end <= SEGMENT_BYTES_MAX;
                    if !in_order {
                        warn!(
                            segment = base,
                            position, "recovery: batch offsets out of order; truncating here"
                        );
                        break;
                    }
                    if let Some((o, t)) =
                        state.track(base, self.index_interval_bytes, position, &header)
                    {
                        offset_entries.push(o);
                        time_entries.extend(t);
                    }
                    valid_end = end;
                }
                Scanned::End => break,
                Scanned::Invalid { position, error } => {
                    warn!(segment = base, position, %error, "recovery: invalid batch; truncating here");
                    break;
                }
            }
        }
        if valid_end < size {
            self.log.truncate(valid_end)?;
        }
        self.offset_index.append_all(&offset_entries)?;
        self.time_index.append_all(&time_entries)?;
        self.state = state;
        // A cleanly closed segment ends its time index with its max
        // timestamp; a recovered one is made to look the same.
        self.seal()?;
        Ok(size - valid_end)
    }

    /// Appends validated, offset-assigned batches with one (vectored) write
    /// and updates the indexes. On failure, tries to undo everything.
    pub fn append(&mut self, batches: &[PlacedBatch<'_>]) -> Result<(), SegmentWriteError> {
        let (size, offset_entries, time_entries, state) = (
            self.log.len(),
            self.offset_index.entries(),
            self.time_index.entries(),
            self.state,
        );
        let Err(error) = self.append_inner(batches) else {
            return Ok(());
        };
        let undo = self
            .log
            .truncate(size)
            .and_then(|()| self.offset_index.truncate_entries(offset_entries))
            .and_then(|()| self.time_index.truncate_entries(time_entries));
        self.state = state;
        Err(SegmentWriteError {
            error,
            undone: undo.is_ok() && self.log.len() == size,
        })
    }

    fn append_inner(&mut self, batches: &[PlacedBatch<'_>]) -> io::Result<()> {
        let mut position = self.log.len();
        let parts: Vec<&[u8]> = batches.iter().flat_map(|b| [&b.head[..], b.rest]).collect();
        self.log.append_vectored(&parts)?;
        for batch in batches {
            let tracked = self.state.track(
                self.base_offset,
                self.index_interval_bytes,
                position,
                &batch.header,
            );
            position += batch.len() as u64;
            if let Some((o, t)) = tracked {
                self.offset_index.append(o)?;
                if let Some(t) = t {
                    self.time_index.append(t)?;
                }
            }
        }
        Ok(())
    }

    /// Ends the time index with the segment's max timestamp (Kafka's
    /// `onBecomeInactiveSegment` and close), even past the size limit, and
    /// writes both indexes out (not fsynced: see [`Segment::flush`]).
    pub fn seal(&mut self) -> io::Result<()> {
        let s = &mut self.state;
        if s.max_timestamp > s.last_time_entry_timestamp {
            let entry = TimeEntry {
                timestamp: s.max_timestamp,
                relative_offset: relative(self.base_offset, s.offset_of_max_timestamp),
            };
            self.time_index.append(entry)?;
            s.last_time_entry_timestamp = s.max_timestamp;
        }
        self.offset_index.seal()?;
        self.time_index.seal()
    }

    /// Kafka's `LogSegment.shouldRoll`, for an append of `incoming_bytes`
    /// whose largest timestamp and last offset are given.
    pub fn should_roll(
        &self,
        config: &LogConfig,
        incoming_bytes: u64,
        max_timestamp: i64,
        last_offset: i64,
        now_ms: i64,
    ) -> bool {
        let size = self.log.len();
        if size == 0 {
            return false;
        }
        size.saturating_add(incoming_bytes) > config.segment_bytes_effective()
            || self.time_waited_for_roll(now_ms, max_timestamp) > config.max_segment_ms()
            || self.offset_index.is_full()
            || self.time_index.is_full()
            || last_offset.saturating_sub(self.base_offset) > RELATIVE_OFFSET_MAX
    }

    /// Age of the segment: by record timestamps when the first batch has
    /// one, else by wall clock since the segment was created or opened.
    fn time_waited_for_roll(&self, now_ms: i64, max_timestamp: i64) -> i64 {
        match self.state.first_batch_timestamp {
            Some(first) if first >= 0 => max_timestamp.saturating_sub(first),
            _ => now_ms.saturating_sub(self.created_ms),
        }
    }

    /// A handle on the log file that outlives the log's lock.
    pub fn log_file(&self) -> Arc<dyn SharedFile> {
        self.log.shared()
    }

    /// Handles on the log and index files of a sealed segment, for an
    /// fsync off the log's lock. The index handles open their files, so
    /// they hold descriptors until the job drops them.
    pub fn shared_files(&self) -> io::Result<[Arc<dyn SharedFile>; 3]> {
        Ok([
            self.log.shared(),
            self.offset_index.shared()?,
            self.time_index.shared()?,
        ])
    }

    /// Makes the log file and both indexes durable, writing out index
    /// entries still only in memory.
    pub fn flush(&mut self) -> io::Result<()> {
        self.log.sync()?;
        self.flush_indexes()
    }

    /// Makes both indexes durable; free when they already are.
    pub fn flush_indexes(&mut self) -> io::Result<()> {
        self.offset_index.sync()?;
        self.time_index.sync()?;
        self.txn_index.sync()
    }

    pub fn delete_files(&self, storage: &dyn Storage) -> io::Result<()> {
        storage.remove(&file_name(self.base_offset, LOG_SUFFIX))?;
        storage.remove(&file_name(self.base_offset, INDEX_SUFFIX))?;
        storage.remove(&file_name(self.base_offset, TIME_INDEX_SUFFIX))?;
        storage.remove(&file_name(self.base_offset, TXN_INDEX_SUFFIX))
    }

    pub fn txn_index(&self) -> &TxnIndex {
        &self.txn_index
    }

    pub fn txn_index_mut(&mut self) -> &mut TxnIndex {
        &mut self.txn_index
    }

    pub fn scanner(&self, position: u64) -> BatchScanner<'_> {
        BatchScanner::new(&*self.log, position, HEADER_SCAN_BLOCK_BYTES)
    }

    /// Position of the batch holding `offset`, or the first batch after it.
    pub fn find_batch(&self, offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        let start = self.index_position(offset)?;
        match self.scan_for(start, offset)? {
            Lookup::Found(position, header) => Ok(Some((position, header))),
            Lookup::NotFound => Ok(None),
            Lookup::BadStart if start > 0 => {
                warn!(
                    segment = self.base_offset,
                    offset, start, "offset index disagrees with the log; scanning"
                );
                match self.scan_for(0, offset)? {
                    Lookup::Found(position, header) => Ok(Some((position, header))),
                    Lookup::NotFound | Lookup::BadStart => Ok(None),
                }
            }
            Lookup::BadStart => Ok(None),
        }
    }

    /// Where to start scanning for `offset`: the floor index entry.
    fn index_position(&self, offset: i64) -> io::Result<u64> {
        let key = offset
            .saturating_sub(self.base_offset)
            .clamp(0, RELATIVE_OFFSET_MAX);
        Ok(self
            .offset_index
            .floor(key)?
            .map_or(0, |e| u64::from(e.position)))
    }

    fn scan_for(&self, start: u64, offset: i64) -> io::Result<Lookup> {
        let mut scanner = self.scanner(start);
        let mut first = true;
        loop {
            match scanner.next_header()? {
                Scanned::Batch { position, header } => {
                    if first && start > 0 && header.base_offset > offset {
                        return Ok(Lookup::BadStart);
                    }
                    first = false;
                    if header.last_offset() >= offset {
                        return Ok(Lookup::Found(position, header));
                    }
                }
                Scanned::End => return Ok(Lookup::NotFound),
                Scanned::Invalid { position, error } => {
                    warn!(segment = self.base_offset, position, %error, "unreadable batch in a live segment");
                    return Ok(if first {
                        Lookup::BadStart
                    } else {
                        Lookup::NotFound
                    });
                }
            }
        }
    }

    /// Fetch: a slice of whole batches from the batch boundary `position`,
    /// at most `max_bytes` long, none reaching `max_offset_exclusive`. With
    /// `first` (that batch's header) the first batch is included even if
    /// larger than `max_bytes`. Only batch headers are read: the stored
    /// bytes go to the client without passing through the broker. The flag
    /// says the read stopped inside this segment (a limit was hit), so the
    /// next segment must not be read.
    pub fn slice_batches(
        &self,
        position: u64,
        max_bytes: usize,
        max_offset_exclusive: i64,
        first: Option<&BatchHeader>,
    ) -> io::Result<(Option<FileSlice>, bool)> {
        let size = self.log.len();
        if position >= size {
            return Ok((None, false));
        }
        let limit = position.saturating_add(max_bytes as u64).min(size);
        let offset_bound = max_offset_exclusive < self.next_offset();
        let mut end = if !offset_bound && limit == size {
            size
        } else {
            self.batch_end(position, limit, max_offset_exclusive)?
        };
        if end == position {
            if let Some(h) = first.filter(|h| h.last_offset() < max_offset_exclusive) {
                end = (position + h.total_bytes() as u64).min(size);
            }
        }
        let slice = (end > position)
            .then(|| FileSlice::new(self.log.shared(), position, (end - position) as usize));
        Ok((slice, end < size))
    }

    /// The end of the longest run of whole batches from `position` that
    /// ends at or before `limit` and holds no offset at or past
    /// `max_offset_exclusive`. The offset index skips most of the walk: an
    /// entry at or before both bounds starts a batch whose predecessors all
    /// qualify.
    fn batch_end(&self, position: u64, limit: u64, max_offset_exclusive: i64) -> io::Result<u64> {
        let base = self.base_offset;
        let by_size = self
            .offset_index
            .floor_by(limit as i64, |e| i64::from(e.position))?;
        let by_offset = self.offset_index.floor(
            max_offset_exclusive
                .saturating_sub(1)
                .saturating_sub(base)
                .clamp(-1, RELATIVE_OFFSET_MAX),
        )?;
        let jump = match (by_size, by_offset) {
            (Some(s), Some(o)) => u64::from(s.position.min(o.position)),
            _ => 0,
        };
        let mut scanner = BatchScanner::new(&*self.log, jump.max(position), SLICE_SCAN_BLOCK_BYTES);
        let mut end = scanner.position();
        while let Scanned::Batch { position, header } = scanner.next_header()? {
            let batch_end = position + header.total_bytes() as u64;
            if batch_end > limit || header.last_offset() >= max_offset_exclusive {
                break;
            }
            end = batch_end;
        }
        Ok(end)
    }

    /// Reads the header of the batch at `position`.
    pub fn header_at(&self, position: u64) -> io::Result<Option<BatchHeader>> {
        match self.scanner(position).next_header()? {
            Scanned::Batch { header, .. } => Ok(Some(header)),
            Scanned::End | Scanned::Invalid { .. } => Ok(None),
        }
    }

    /// Kafka's `LogSegment.findOffsetByTimestamp`: the first record at or
    /// after `starting_offset` whose timestamp is `>= timestamp`, found via
    /// the time index. See [`resolve_in_batch`] for compressed batches.
    pub fn find_offset_by_timestamp(
        &self,
        timestamp: i64,
        starting_offset: i64,
    ) -> io::Result<Option<(i64, i64)>> {
        let base = self.base_offset;
        let from_time = self
            .time_index
            .floor(timestamp)?
            .map_or(base, |e| base.saturating_add(i64::from(e.relative_offset)));
        let start = self.index_position(from_time.max(starting_offset))?;
        let mut scanner = self.scanner(start);
        while let Scanned::Batch { position, header } = scanner.next_header()? {
            if header.max_timestamp < timestamp || header.last_offset() < starting_offset {
                continue;
            }
            let bytes = scanner.batch_bytes(position, &header)?;
            let found = resolve_in_batch(
                bytes,
                &header,
                Target::AtLeast {
                    timestamp,
                    starting_offset,
                },
            );
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP within this segment: offset and timestamp
    /// of the first record carrying the segment's largest timestamp.
    pub fn max_timestamp_record(&self) -> io::Result<Option<(i64, i64)>> {
        if self.log.is_empty() {
            return Ok(None);
        }
        let (max, batch_last) = (self.state.max_timestamp, self.state.offset_of_max_timestamp);
        let mut scanner = self.scanner(self.index_position(batch_last)?);
        while let Scanned::Batch { position, header } = scanner.next_header()? {
            if header.max_timestamp != max {
                continue;
            }
            let bytes = scanner.batch_bytes(position, &header)?;
            let found = resolve_in_batch(bytes, &header, Target::Exactly(max));
            return Ok(Some(found.unwrap_or((header.last_offset(), max))));
        }
        Ok(Some((batch_last, max)))
    }
}

/// What a timestamp search looks for inside one batch.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The first record with timestamp `>= timestamp` at or after `starting_offset`.
    AtLeast {
        timestamp: i64,
        starting_offset: i64,
    },
    /// The first record whose timestamp is exactly this (the batch's max).
    Exactly(i64),
}

/// The first record of one batch that meets `target`; the caller has
/// checked that the batch's max timestamp (and last offset) qualify.
///
/// LogAppendTime batches: every record carries the max timestamp, so the
/// answer is exact. Uncompressed CreateTime batches: the records are walked
/// (cheap, no allocation) and the answer is exact. Compressed CreateTime
/// batches are not decompressed: a timestamp search answers the batch's
/// base offset (clamped to `starting_offset`) and a MAX_TIMESTAMP search
/// its last offset, each with the batch's max timestamp. A consumer seeking
/// there re-reads at most one batch.
fn resolve_in_batch(batch: &[u8], h: &BatchHeader, target: Target) -> Option<(i64, i64)> {
    let first_offset = match target {
        Target::AtLeast {
            starting_offset, ..
        } => h.base_offset.max(starting_offset),
        Target::Exactly(_) => h.base_offset,
    };
    if h.timestamp_type() == TimestampType::LogAppendTime {
        return Some((first_offset, h.max_timestamp));
    }
    if h.compression() != Ok(Compression::None) {
        return match target {
            Target::AtLeast { .. } => Some((first_offset, h.max_timestamp)),
            Target::Exactly(ts) => Some((h.last_offset(), ts)),
        };
    }
    for record in RecordIter::new(batch) {
        let Ok(record) = record else { break };
        let offset = h.base_offset.wrapping_add(i64::from(record.offset_delta));
        let ts = h.base_timestamp.wrapping_add(record.timestamp_delta);
        let hit = match target {
            Target::AtLeast {
                timestamp,
                starting_offset,
            } => ts >= timestamp && offset >= starting_offset,
            Target::Exactly(max) => ts == max,
        };
        if hit {
            return Some((offset, ts));
        }
    }
    None
}
