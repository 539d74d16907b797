//! Turning one line of `gregor produce` input into a record, exactly as
//! kafka-console-producer's `LineMessageReader` does:
//!
//! `[headers<headers.delimiter>][key<key.separator>]value`
//!
//! where headers are `k<headers.key.separator>v` pairs joined by
//! `headers.separator`, and any key, value or header value equal to
//! `null.marker` (if set) is null. Pure: no I/O, so it is tested directly.

use super::config::{parse_bool, unescape};

/// The `--property` keys this reader understands.
pub const READER_KEYS: &[&str] = &[
    "parse.key",
    "key.separator",
    "parse.headers",
    "headers.delimiter",
    "headers.separator",
    "headers.key.separator",
    "null.marker",
    "ignore.error",
];

/// How input lines are split; defaults are kafka-console-producer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFormat {
    pub parse_key: bool,
    pub key_separator: String,
    pub parse_headers: bool,
    pub headers_delimiter: String,
    pub headers_separator: String,
    pub headers_key_separator: String,
    pub null_marker: Option<String>,
    /// Treat a line without the expected separator as having no key (or no
    /// headers) instead of failing.
    pub ignore_error: bool,
}

impl Default for LineFormat {
    fn default() -> LineFormat {
        LineFormat {
            parse_key: false,
            key_separator: "\t".to_string(),
            parse_headers: false,
            headers_delimiter: "\t".to_string(),
            headers_separator: ",".to_string(),
            headers_key_separator: ":".to_string(),
            null_marker: None,
            ignore_error: false,
        }
    }
}

/// A record read from one line; `None` is a null key, value or header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRecord {
    pub key: Option<String>,
    pub value: Option<String>,
    pub headers: Vec<(String, Option<String>)>,
}

impl LineFormat {
    /// Applies reader properties in order; separators accept `\t`-style
    /// escapes.
    pub fn apply(&mut self, key: &str, value: &str) {
        match key {
            "parse.key" => self.parse_key = parse_bool(value),
            "key.separator" => self.key_separator = unescape(value),
            "parse.headers" => self.parse_headers = parse_bool(value),
            "headers.delimiter" => self.headers_delimiter = unescape(value),
            "headers.separator" => self.headers_separator = unescape(value),
            "headers.key.separator" => self.headers_key_separator = unescape(value),
            "null.marker" => self.null_marker = Some(unescape(value)),
            "ignore.error" => self.ignore_error = parse_bool(value),
            _ => {}
        }
    }

    /// Rejects settings that make lines ambiguous, with Kafka's wording.
    pub fn validate(&self) -> Result<(), String> {
        let mut named: Vec<(&str, &str)> = Vec::new();
        if self.parse_key {
            named.push(("key.separator", &self.key_separator));
        }
        if self.parse_headers {
            named.push(("headers.delimiter", &self.headers_delimiter));
            named.push(("headers.separator", &self.headers_separator));
            named.push(("headers.key.separator", &self.headers_key_separator));
        }
        for (name, value) in &named {
            if value.is_empty() {
                return Err(format!("{name} may not be empty"));
            }
        }
        if self.parse_headers {
            for (i, (a, av)) in named.iter().enumerate() {
                for (b, bv) in &named[i + 1..] {
                    if a.starts_with("headers") && b.starts_with("headers") && av == bv {
                        return Err(format!("{a} and {b} may not be equal"));
                    }
                }
            }
        }
        if let Some(marker) = &self.null_marker {
            for (name, value) in &named {
                if marker == value {
                    return Err(format!("null.marker and {name} may not be equal"));
                }
            }
        }
        Ok(())
    }

    /// Parses one line (without its line terminator). `line_number` counts
    /// from 1 and only appears in errors.
    pub fn parse(&self, line: &str, line_number: u64) -> Result<LineRecord, String> {
        let headers = self.split_off(
            self.parse_headers,
            line,
            &self.headers_delimiter,
            "headers delimiter",
            line_number,
        )?;
        let rest = match headers {
            Some(h) => &line[h.len() + self.headers_delimiter.len()..],
            None => line,
        };
        let key = self.split_off(
            self.parse_key,
            rest,
            &self.key_separator,
            "key separator",
            line_number,
        )?;
        let value = match key {
            Some(k) => &rest[k.len() + self.key_separator.len()..],
            None => rest,
        };
        let headers = match headers {
            Some(h) if !self.is_null(h) => self.parse_headers_text(h, line_number)?,
            _ => Vec::new(),
        };
        Ok(LineRecord {
            key: key.filter(|k| !self.is_null(k)).map(str::to_string),
            value: Some(value).filter(|v| !self.is_null(v)).map(str::to_string),
            headers,
        })
    }

    fn is_null(&self, s: &str) -> bool {
        self.null_marker.as_deref() == Some(s)
    }

    /// The text before `separator`, if this part is enabled.
    fn split_off<'l>(
        &self,
        enabled: bool,
        line: &'l str,
        separator: &str,
        what: &str,
        line_number: u64,
    ) -> Result<Option<&'l str>, String> {
        if !enabled {
            return Ok(None);
        }
        match line.find(separator) {
            Some(index) => Ok(Some(&line[..index])),
            None if self.ignore_error => Ok(None),
            None => Err(format!(
                "No {what} found on line number {line_number}: '{line}'"
            )),
        }
    }

    fn parse_headers_text(
        &self,
        text: &str,
        line_number: u64,
    ) -> Result<Vec<(String, Option<String>)>, String> {
        // Like Java's String.split, trailing empty pieces are dropped; an
        // empty header section means no headers (Kafka would reject it).
        let mut pairs: Vec<&str> = text.split(self.headers_separator.as_str()).collect();
        while pairs.last() == Some(&"") {
            pairs.pop();
        }
        let mut headers = Vec::with_capacity(pairs.len());
        for pair in pairs {
            let Some(index) = pair.find(&self.headers_key_separator) else {
                if self.ignore_error {
                    headers.push((pair.to_string(), None));
                    continue;
                }
                return Err(format!(
                    "No header key separator found in pair '{pair}' on line number {line_number}"
                ));
            };
            let key = &pair[..index];
            if self.is_null(key) {
                return Err(format!(
                    "Header keys should not be equal to the null marker '{key}' as they can't be null"
                ));
            }
            let value = &pair[index + self.headers_key_separator.len()..];
            let value = (!self.is_null(value)).then(|| value.to_string());
            headers.push((key.to_string(), value));
        }
        Ok(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(sep: &str) -> LineFormat {
        LineFormat {
            parse_key: true,
            key_separator: sep.to_string(),
            ..LineFormat::default()
        }
    }

    fn record(key: Option<&str>, value: Option<&str>) -> LineRecord {
        LineRecord {
            key: key.map(str::to_string),
            value: value.map(str::to_string),
            headers: vec![],
        }
    }

    #[test]
    fn plain_lines_are_values() {
        let f = LineFormat::default();
        assert_eq!(
            f.parse("hello\tworld", 1).unwrap(),
            record(None, Some("hello\tworld"))
        );
        assert_eq!(f.parse("", 1).unwrap(), record(None, Some("")));
        // Without null.marker, "null" is just text.
        assert_eq!(f.parse("null", 1).unwrap(), record(None, Some("null")));
    }

    #[test]
    fn key_splits_at_first_separator() {
        let f = keyed(":");
        assert_eq!(f.parse("k:v:w", 1).unwrap(), record(Some("k"), Some("v:w")));
        assert_eq!(f.parse(":v", 1).unwrap(), record(Some(""), Some("v")));
        assert_eq!(f.parse("k:", 1).unwrap(), record(Some("k"), Some("")));
    }

    #[test]
    fn missing_key_separator_is_an_error_unless_ignored() {
        let f = keyed(":");
        assert_eq!(
            f.parse("novalue", 3).unwrap_err(),
            "No key separator found on line number 3: 'novalue'"
        );
        let f = LineFormat {
            ignore_error: true,
            ..keyed(":")
        };
        assert_eq!(
            f.parse("novalue", 3).unwrap(),
            record(None, Some("novalue"))
        );
    }

    #[test]
    fn null_marker_makes_key_and_value_null() {
        let f = LineFormat {
            null_marker: Some("<null>".into()),
            ..keyed(":")
        };
        assert_eq!(f.parse("<null>:v", 1).unwrap(), record(None, Some("v")));
        assert_eq!(f.parse("k:<null>", 1).unwrap(), record(Some("k"), None));
        assert_eq!(
            f.parse("k:null", 1).unwrap(),
            record(Some("k"), Some("null"))
        );
    }

    #[test]
    fn headers_key_and_value() {
        let f = LineFormat {
            parse_headers: true,
            null_marker: Some("NULL".into()),
            ..keyed("\t")
        };
        let r = f.parse("h1:v1,h2:NULL,h3:a:b\tkey\tvalue", 1).unwrap();
        assert_eq!(r.key.as_deref(), Some("key"));
        assert_eq!(r.value.as_deref(), Some("value"));
        assert_eq!(
            r.headers,
            vec![
                ("h1".to_string(), Some("v1".to_string())),
                ("h2".to_string(), None),
                ("h3".to_string(), Some("a:b".to_string())),
            ]
        );
    }

    #[test]
    fn header_pair_without_key_separator_is_an_error() {
        let f = LineFormat {
            parse_headers: true,
            ..LineFormat::default()
        };
        assert_eq!(
            f.parse("oops\tvalue", 2).unwrap_err(),
            "No header key separator found in pair 'oops' on line number 2"
        );
        assert_eq!(
            f.parse("value only", 4).unwrap_err(),
            "No headers delimiter found on line number 4: 'value only'"
        );
        // Trailing separators and an empty header section are tolerated.
        assert_eq!(f.parse("a:1,\tv", 1).unwrap().headers.len(), 1);
        assert!(f.parse("\tv", 1).unwrap().headers.is_empty());
    }

    #[test]
    fn properties_apply_with_escapes() {
        let mut f = LineFormat::default();
        f.apply("parse.key", "true");
        f.apply("key.separator", "\\t");
        f.apply("null.marker", "NULL");
        assert!(f.parse_key);
        assert_eq!(f.key_separator, "\t");
        assert_eq!(f.null_marker.as_deref(), Some("NULL"));
    }

    #[test]
    fn ambiguous_settings_are_rejected() {
        let f = LineFormat {
            parse_headers: true,
            headers_separator: "\t".into(),
            ..LineFormat::default()
        };
        assert_eq!(
            f.validate().unwrap_err(),
            "headers.delimiter and headers.separator may not be equal"
        );
        let f = LineFormat {
            null_marker: Some(":".into()),
            ..keyed(":")
        };
        assert_eq!(
            f.validate().unwrap_err(),
            "null.marker and key.separator may not be equal"
        );
        assert_eq!(
            keyed("").validate().unwrap_err(),
            "key.separator may not be empty"
        );
        assert!(keyed(":").validate().is_ok());
    }
}
