//! Printing consumed records exactly as kafka-console-consumer's
//! `DefaultMessageFormatter` does:
//!
//! `[CreateTime:ts<sep>][Partition:p<sep>][Offset:o<sep>][h1:v1,h2:v2<sep>][key<sep>]value<line.separator>`
//!
//! with `NO_HEADERS` for a record without headers, `NO_TIMESTAMP` for one
//! without a timestamp, and `null.literal` for a null key, value or header
//! value. Pure: writes to any `Write`, so it is tested directly.

use std::io::{self, Write};

use super::config::{parse_bool, unescape};

/// The `--property` keys this formatter understands. The deserializer keys
/// are accepted for command-line compatibility and ignored: records are
/// printed as raw bytes, which is what Kafka's String and ByteArray
/// deserializers print too.
pub const FORMATTER_KEYS: &[&str] = &[
    "print.timestamp",
    "print.key",
    "print.offset",
    "print.partition",
    "print.headers",
    "print.value",
    "key.separator",
    "line.separator",
    "headers.separator",
    "null.literal",
    "key.deserializer",
    "value.deserializer",
    "headers.deserializer",
];

/// What to print; defaults are kafka-console-consumer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFormat {
    pub print_timestamp: bool,
    pub print_partition: bool,
    pub print_offset: bool,
    pub print_headers: bool,
    pub print_key: bool,
    pub print_value: bool,
    pub key_separator: Vec<u8>,
    pub line_separator: Vec<u8>,
    pub headers_separator: Vec<u8>,
    pub null_literal: Vec<u8>,
}

impl Default for RecordFormat {
    fn default() -> RecordFormat {
        RecordFormat {
            print_timestamp: false,
            print_partition: false,
            print_offset: false,
            print_headers: false,
            print_key: false,
            print_value: true,
            key_separator: b"\t".to_vec(),
            line_separator: b"\n".to_vec(),
            headers_separator: b",".to_vec(),
            null_literal: b"null".to_vec(),
        }
    }
}

/// A record's timestamp as the broker reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordTimestamp {
    CreateTime(i64),
    LogAppendTime(i64),
    None,
}

/// The parts of a consumed record the formatter prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub timestamp: RecordTimestamp,
    pub partition: i32,
    pub offset: i64,
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

impl RecordFormat {
    /// Applies formatter properties in order; separators accept `\t`-style
    /// escapes.
    pub fn apply(&mut self, key: &str, value: &str) {
        match key {
            "print.timestamp" => self.print_timestamp = parse_bool(value),
            "print.key" => self.print_key = parse_bool(value),
            "print.offset" => self.print_offset = parse_bool(value),
            "print.partition" => self.print_partition = parse_bool(value),
            "print.headers" => self.print_headers = parse_bool(value),
            "print.value" => self.print_value = parse_bool(value),
            "key.separator" => self.key_separator = unescape(value).into_bytes(),
            "line.separator" => self.line_separator = unescape(value).into_bytes(),
            "headers.separator" => self.headers_separator = unescape(value).into_bytes(),
            "null.literal" => self.null_literal = unescape(value).into_bytes(),
            _ => {}
        }
    }

    /// Writes one record. Each printed field is followed by the key
    /// separator if another field follows, otherwise by the line separator.
    pub fn write(&self, out: &mut dyn Write, record: &RecordView<'_>) -> io::Result<()> {
        let fields = [
            self.print_timestamp,
            self.print_partition,
            self.print_offset,
            self.print_headers,
            self.print_key,
            self.print_value,
        ];
        let more_after = |i: usize| fields[i + 1..].iter().any(|&f| f);
        if self.print_timestamp {
            match record.timestamp {
                RecordTimestamp::CreateTime(ts) => write!(out, "CreateTime:{ts}")?,
                RecordTimestamp::LogAppendTime(ts) => write!(out, "LogAppendTime:{ts}")?,
                RecordTimestamp::None => out.write_all(b"NO_TIMESTAMP")?,
            }
            self.separator(out, more_after(0))?;
        }
        if self.print_partition {
            write!(out, "Partition:{}", record.partition)?;
            self.separator(out, more_after(1))?;
        }
        if self.print_offset {
            write!(out, "Offset:{}", record.offset)?;
            self.separator(out, more_after(2))?;
        }
        if self.print_headers {
            if record.headers.is_empty() {
                out.write_all(b"NO_HEADERS")?;
            }
            for (i, (key, value)) in record.headers.iter().enumerate() {
                if i > 0 {
                    out.write_all(&self.headers_separator)?;
                }
                write!(out, "{key}:")?;
                out.write_all(value.unwrap_or(&self.null_literal))?;
            }
            self.separator(out, more_after(3))?;
        }
        if self.print_key {
            out.write_all(record.key.unwrap_or(&self.null_literal))?;
            self.separator(out, more_after(4))?;
        }
        if self.print_value {
            out.write_all(record.value.unwrap_or(&self.null_literal))?;
            out.write_all(&self.line_separator)?;
        }
        Ok(())
    }

    fn separator(&self, out: &mut dyn Write, more_fields: bool) -> io::Result<()> {
        if more_fields {
            out.write_all(&self.key_separator)
        } else {
            out.write_all(&self.line_separator)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>() -> RecordView<'a> {
        RecordView {
            timestamp: RecordTimestamp::CreateTime(1_700_000_000_000),
            partition: 0,
            offset: 5,
            headers: vec![],
            key: Some(b"k1"),
            value: Some(b"v1"),
        }
    }

    fn render(format: &RecordFormat, record: &RecordView<'_>) -> String {
        let mut out = Vec::new();
        format.write(&mut out, record).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn value_only_by_default() {
        assert_eq!(render(&RecordFormat::default(), &record()), "v1\n");
    }

    #[test]
    fn everything_in_kafka_order() {
        let format = RecordFormat {
            print_timestamp: true,
            print_partition: true,
            print_offset: true,
            print_key: true,
            ..RecordFormat::default()
        };
        assert_eq!(
            render(&format, &record()),
            "CreateTime:1700000000000\tPartition:0\tOffset:5\tk1\tv1\n"
        );
    }

    #[test]
    fn headers_and_nulls() {
        let format = RecordFormat {
            print_headers: true,
            print_key: true,
            ..RecordFormat::default()
        };
        let mut r = record();
        r.headers = vec![("h1", Some(b"v1".as_slice())), ("h2", None)];
        r.key = None;
        r.value = None;
        assert_eq!(render(&format, &r), "h1:v1,h2:null\tnull\tnull\n");
        r.headers.clear();
        assert_eq!(render(&format, &r), "NO_HEADERS\tnull\tnull\n");
    }

    #[test]
    fn last_printed_field_ends_the_line_when_value_is_off() {
        let mut format = RecordFormat::default();
        format.apply("print.value", "false");
        format.apply("print.key", "true");
        assert_eq!(render(&format, &record()), "k1\n");
    }

    #[test]
    fn other_timestamp_kinds() {
        let format = RecordFormat {
            print_timestamp: true,
            ..RecordFormat::default()
        };
        let mut r = record();
        r.timestamp = RecordTimestamp::LogAppendTime(7);
        assert_eq!(render(&format, &r), "LogAppendTime:7\tv1\n");
        r.timestamp = RecordTimestamp::None;
        assert_eq!(render(&format, &r), "NO_TIMESTAMP\tv1\n");
    }

    #[test]
    fn separators_and_null_literal_are_configurable() {
        let mut format = RecordFormat::default();
        for (k, v) in [
            ("print.key", "true"),
            ("print.headers", "TRUE"),
            ("key.separator", " | "),
            ("headers.separator", ";"),
            ("line.separator", "\\r\\n"),
            ("null.literal", "<nil>"),
        ] {
            format.apply(k, v);
        }
        let mut r = record();
        r.headers = vec![("a", Some(b"1".as_slice())), ("b", Some(b"2".as_slice()))];
        r.key = None;
        assert_eq!(render(&format, &r), "a:1;b:2 | <nil> | v1\r\n");
    }
}
