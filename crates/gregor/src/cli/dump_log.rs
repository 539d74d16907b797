//! `gregor dump-log`: print segment files like kafka-dump-log.sh. A `.log`
//! file prints one line per batch (offsets, producer fields, position,
//! size, codec, CRC and whether it matches), optionally each record; an
//! `.index` file prints `offset: N position: P` and a `.timeindex` file
//! `timestamp: T offset: N`. A damaged or torn tail is reported with its
//! byte count, as Kafka reports "invalid bytes", and never stops the tool.
//!
//! Reads files only; it needs no broker.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use gregor_protocol::batch::{compute_crc, split_batches, BatchHeader, Compression, TimestampType};
use gregor_protocol::kafka_protocol::records::{Record, RecordBatchDecoder};

use super::errors::CliError;

/// Bytes of one `.index` entry: relative offset, position.
const OFFSET_INDEX_ENTRY_BYTES: usize = 8;
/// Bytes of one `.timeindex` entry: timestamp, relative offset.
const TIME_INDEX_ENTRY_BYTES: usize = 12;
/// Payloads longer than this are cut when printed (kafka-dump-log.sh
/// prints them whole; a terminal does not want megabytes per line).
const PRINTED_BYTES_MAX: usize = 64 * 1024;

#[derive(clap::Args, Debug)]
pub struct DumpLogArgs {
    /// Segment files to print: .log, .index or .timeindex (comma-separated or repeated).
    #[arg(long = "files", value_name = "FILE", value_delimiter = ',', required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Print each record's key and payload (implies --deep-iteration).
    #[arg(long = "print-data-log")]
    pub print_data_log: bool,
    /// Print each record, not only each batch.
    #[arg(long = "deep-iteration")]
    pub deep_iteration: bool,
}

pub fn run(args: DumpLogArgs, out: &mut impl Write) -> Result<(), CliError> {
    for file in &args.files {
        let io = |e| CliError::io(format!("could not read {}", file.display()), e);
        let bytes = std::fs::read(file).map_err(io)?;
        let write = |e| CliError::io("could not write to stdout", e);
        writeln!(out, "Dumping {}", file.display()).map_err(write)?;
        let base_offset = base_offset_of(file)?;
        match file.extension().and_then(|e| e.to_str()) {
            Some("log") => {
                let deep = args.deep_iteration || args.print_data_log;
                dump_segment(&bytes, base_offset, deep, args.print_data_log, file, out)
            }
            Some("index") => dump_offset_index(&bytes, base_offset, out),
            Some("timeindex") => dump_time_index(&bytes, base_offset, out),
            _ => {
                return Err(CliError::Usage(format!(
                    "{} is not a .log, .index or .timeindex file",
                    file.display()
                )))
            }
        }
        .map_err(write)?;
    }
    Ok(())
}

/// The base offset a segment file's name carries (`00000000000000000042.log`).
fn base_offset_of(file: &Path) -> Result<i64, CliError> {
    file.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{} is not named after its base offset (like 00000000000000000000.log)",
                file.display()
            ))
        })
}

fn dump_segment(
    bytes: &[u8],
    base_offset: i64,
    deep: bool,
    print_data: bool,
    file: &Path,
    out: &mut impl Write,
) -> std::io::Result<()> {
    writeln!(out, "Log starting offset: {base_offset}")?;
    let mut valid_bytes = 0usize;
    for item in split_batches(bytes) {
        let Ok((header, range)) = item else { break };
        let batch = &bytes[range.clone()];
        writeln!(out, "{}", batch_line(&header, batch, range.start))?;
        if deep {
            dump_records(batch, print_data, out)?;
        }
        valid_bytes = range.end;
    }
    let trailing = bytes.len() - valid_bytes;
    if trailing > 0 {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        writeln!(out, "Found {trailing} invalid bytes at the end of {name}")?;
    }
    Ok(())
}

fn codec_name(header: &BatchHeader) -> String {
    match header.compression() {
        Ok(Compression::None) => "none".into(),
        Ok(Compression::Gzip) => "gzip".into(),
        Ok(Compression::Snappy) => "snappy".into(),
        Ok(Compression::Lz4) => "lz4".into(),
        Ok(Compression::Zstd) => "zstd".into(),
        Err(_) => format!("unknown({})", header.attributes & 0x7),
    }
}

fn timestamp_label(header: &BatchHeader) -> &'static str {
    match header.timestamp_type() {
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
    }
}

/// One batch in kafka-dump-log.sh's words.
pub fn batch_line(header: &BatchHeader, batch: &[u8], position: usize) -> String {
    let valid = compute_crc(batch) == header.crc;
    format!(
        "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} producerId: {} producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} position: {} {}: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {}",
        header.base_offset,
        header.last_offset(),
        header.records_count,
        header.base_sequence,
        header.last_sequence(),
        header.producer_id,
        header.producer_epoch,
        header.partition_leader_epoch,
        header.is_transactional(),
        header.is_control(),
        position,
        timestamp_label(header),
        header.max_timestamp,
        batch.len(),
        header.magic,
        codec_name(header),
        header.crc,
        valid,
    )
}

fn dump_records(batch: &[u8], print_data: bool, out: &mut impl Write) -> std::io::Result<()> {
    let header = match BatchHeader::parse(batch) {
        Ok(h) => h,
        Err(_) => return Ok(()),
    };
    let mut buf = Bytes::copy_from_slice(batch);
    let set = match RecordBatchDecoder::decode(&mut buf) {
        Ok(set) => set,
        Err(e) => return writeln!(out, "| records unreadable: {e}"),
    };
    for record in &set.records {
        writeln!(out, "{}", record_line(&header, record, print_data))?;
    }
    Ok(())
}

fn record_line(header: &BatchHeader, record: &Record, print_data: bool) -> String {
    let key_size = record.key.as_ref().map_or(-1, |k| k.len() as i64);
    let value_size = record.value.as_ref().map_or(-1, |v| v.len() as i64);
    let header_keys: Vec<String> = record.headers.keys().map(|k| k.to_string()).collect();
    let mut line = format!(
        "| offset: {} {}: {} keySize: {} valueSize: {} sequence: {} headerKeys: [{}]",
        record.offset,
        timestamp_label(header),
        record.timestamp,
        key_size,
        value_size,
        record.sequence,
        header_keys.join(","),
    );
    if print_data {
        if let Some(key) = &record.key {
            line.push_str(&format!(" key: {}", printable(key)));
        }
        if let Some(value) = &record.value {
            line.push_str(&format!(" payload: {}", printable(value)));
        }
    }
    line
}

fn printable(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(PRINTED_BYTES_MAX)];
    String::from_utf8_lossy(cut).into_owned()
}

fn dump_offset_index(bytes: &[u8], base_offset: i64, out: &mut impl Write) -> std::io::Result<()> {
    for (i, entry) in bytes.chunks_exact(OFFSET_INDEX_ENTRY_BYTES).enumerate() {
        let relative = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let position = u32::from_be_bytes([entry[4], entry[5], entry[6], entry[7]]);
        // A preallocated (zero-filled) tail ends the entries, as Kafka's
        // tool stops at the first entry that repeats the base offset.
        if i > 0 && relative == 0 && position == 0 {
            break;
        }
        writeln!(
            out,
            "offset: {} position: {}",
            base_offset + i64::from(relative),
            position
        )?;
    }
    report_partial_entry(bytes.len(), OFFSET_INDEX_ENTRY_BYTES, out)
}

fn dump_time_index(bytes: &[u8], base_offset: i64, out: &mut impl Write) -> std::io::Result<()> {
    for (i, entry) in bytes.chunks_exact(TIME_INDEX_ENTRY_BYTES).enumerate() {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&entry[..8]);
        let timestamp = i64::from_be_bytes(ts);
        let relative = u32::from_be_bytes([entry[8], entry[9], entry[10], entry[11]]);
        if i > 0 && timestamp == 0 && relative == 0 {
            break;
        }
        writeln!(
            out,
            "timestamp: {} offset: {}",
            timestamp,
            base_offset + i64::from(relative)
        )?;
    }
    report_partial_entry(bytes.len(), TIME_INDEX_ENTRY_BYTES, out)
}

fn report_partial_entry(len: usize, entry: usize, out: &mut impl Write) -> std::io::Result<()> {
    let partial = len % entry;
    if partial > 0 {
        writeln!(
            out,
            "Found {partial} invalid bytes at the end of the index (a partial entry)"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use gregor_protocol::kafka_protocol::records::{
        Compression as Codec, RecordBatchEncoder, RecordEncodeOptions, TimestampType as Ts,
    };

    fn segment(values: &[&str], codec: Codec) -> Vec<u8> {
        let records: Vec<Record> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: Ts::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: 1_700_000_000_000 + i as i64,
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(v.to_string())),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: codec,
        };
        RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
        buf.to_vec()
    }

    fn dump(bytes: &[u8], print: bool) -> String {
        let mut out = Vec::new();
        dump_segment(
            bytes,
            0,
            print,
            print,
            Path::new("00000000000000000000.log"),
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn batches_and_records_print_like_kafka() {
        let mut bytes = segment(&["a"], Codec::None);
        bytes.extend(
            segment(&["bb"], Codec::None)
                .iter()
                .enumerate()
                .map(|(i, b)| if i == 7 { 1 } else { *b }),
        );
        bytes.extend(
            segment(&["ccc"], Codec::Gzip)
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    // Shift the second batch's base offset to 2 (outside the CRC).
                    if i == 7 {
                        2
                    } else {
                        *b
                    }
                }),
        );
        let text = dump(&bytes, true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Log starting offset: 0");
        assert!(lines[1].starts_with("baseOffset: 0 lastOffset: 0 count: 1 baseSequence: -1 lastSequence: -1 producerId: -1 producerEpoch: -1 partitionLeaderEpoch: 0 isTransactional: false isControl: false position: 0 CreateTime: 1700000000000 size: "), "{}", lines[1]);
        assert!(
            lines[1].contains("magic: 2 compresscodec: none crc: ")
                && lines[1].ends_with("isvalid: true"),
            "{}",
            lines[1]
        );
        assert!(lines[4].starts_with("| offset: 1 "), "{}", lines[4]);
        assert_eq!(lines[2], "| offset: 0 CreateTime: 1700000000000 keySize: 2 valueSize: 1 sequence: -1 headerKeys: [] key: k0 payload: a");
        assert!(
            lines[5].contains("baseOffset: 2 lastOffset: 2")
                && lines[5].contains("compresscodec: gzip")
                && lines[5].contains("isvalid: true"),
            "{}",
            lines[5]
        );
        assert!(
            lines[6].starts_with("| offset: 2 ") && lines[6].ends_with("payload: ccc"),
            "{}",
            lines[6]
        );
    }

    #[test]
    fn a_flipped_byte_and_a_torn_tail_are_reported() {
        let mut bytes = segment(&["hello"], Codec::None);
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        bytes.extend_from_slice(&[0, 0, 0]);
        let text = dump(&bytes, false);
        assert!(text.contains("isvalid: false"), "{text}");
        assert!(
            text.contains("Found 3 invalid bytes at the end of 00000000000000000000.log"),
            "{text}"
        );
    }

    #[test]
    fn indexes_print_absolute_offsets() {
        let mut index = Vec::new();
        for (rel, pos) in [(0u32, 0u32), (5, 4096)] {
            index.extend_from_slice(&rel.to_be_bytes());
            index.extend_from_slice(&pos.to_be_bytes());
        }
        index.extend_from_slice(&[0; 8]);
        let mut out = Vec::new();
        dump_offset_index(&index, 100, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "offset: 100 position: 0\noffset: 105 position: 4096\n"
        );
        let mut time = Vec::new();
        time.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
        time.extend_from_slice(&7u32.to_be_bytes());
        time.push(1);
        let mut out = Vec::new();
        dump_time_index(&time, 100, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "timestamp: 1700000000000 offset: 107\nFound 1 invalid bytes at the end of the index (a partial entry)\n"
        );
    }
}
