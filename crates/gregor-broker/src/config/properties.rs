//! A reader for Java `.properties` text, the format of Kafka's
//! `server.properties`, following `java.util.Properties.load`: `#` and `!`
//! comments, `key=value`, `key: value` or `key value`, backslash line
//! continuations, and `\t \n \r \f \uXXXX` escapes (any other escaped
//! character stands for itself).

/// One `key`/`value` pair and the (1-based) line where its entry starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// A malformed escape, with the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub reason: String,
}

/// Decodes file bytes. Java reads properties files as ISO-8859-1; UTF-8 is
/// what people write today, so UTF-8 is tried first and Latin-1 (every byte
/// is a char) is the fallback that can never fail.
pub fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Parses properties text into entries in file order. Later duplicates are
/// kept; the caller lets the last one win, as `Properties` does.
pub fn parse(text: &str) -> Result<Vec<Entry>, SyntaxError> {
    let lines: Vec<&str> = split_lines(text);
    let mut entries = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let first = trim_ws_start(lines[i]);
        i += 1;
        // Comments and blank lines are whole natural lines: a trailing
        // backslash on a comment does not continue it.
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::from(first);
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.get(i) {
                Some(next) => {
                    logical.push_str(trim_ws_start(next));
                    i += 1;
                }
                None => break,
            }
        }
        let (key, value) = split_entry(&logical);
        let line = start + 1;
        let key = unescape(key).map_err(|reason| SyntaxError { line, reason })?;
        let value = unescape(value).map_err(|reason| SyntaxError { line, reason })?;
        entries.push(Entry { key, value, line });
    }
    Ok(entries)
}

/// Natural lines end with `\n`, `\r` or `\r\n`.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(pos) => {
                lines.push(&rest[..pos]);
                let skip = if rest[pos..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = &rest[pos + skip..];
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }
    lines
}

/// Java's properties whitespace: space, tab and form feed.
fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

fn trim_ws_start(s: &str) -> &str {
    s.trim_start_matches(is_ws)
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Splits a logical line at the first unescaped `=`, `:` or whitespace; the
/// separator may be whitespace followed by one `=` or `:`. Both halves are
/// still escaped.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    for (pos, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_ws(c) {
            key_end = pos;
            break;
        }
    }
    let key = &line[..key_end];
    let mut rest = trim_ws_start(&line[key_end..]);
    if let Some(stripped) = rest.strip_prefix(['=', ':']) {
        rest = trim_ws_start(stripped);
    }
    (key, rest)
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten();
                // Lone surrogate halves cannot be a Rust char; Java would
                // keep them, but no Kafka key or value needs one.
                let decoded = code
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("malformed \\u{hex} escape"))?;
                out.push(decoded);
            }
            Some(other) => out.push(other),
            // A lone trailing backslash (e.g. a continuation at end of file)
            // stands for nothing.
            None => {}
        }
    }
    Ok(out)
}
