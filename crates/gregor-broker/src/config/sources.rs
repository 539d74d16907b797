//! Where explicit config values come from, lowest precedence first: the
//! properties file, environment variables, then `--override key=value`.
//! Every value keeps its origin so an error can point at the line or
//! variable that caused it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use gregor_metadata::configs;

use super::properties;
use super::ConfigError;

/// Where one explicit value was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File { path: PathBuf, line: usize },
    Env(String),
    Override,
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "line {line} of {}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Override => f.write_str("--override"),
            Origin::Default => f.write_str("the built-in default"),
        }
    }
}

/// Explicit values by key, each with its origin; later layers replace
/// earlier ones.
pub type Layered = BTreeMap<String, (String, Origin)>;

/// What a key is to us.
pub enum KeyKind {
    Known(&'static configs::ConfigDef),
    /// `listener.name.<listener>.<key>`: a per-listener override, validated
    /// with the definition of `<key>` when we know it.
    PerListener(Option<&'static configs::ConfigDef>),
    Removed(&'static str),
    Unknown,
}

pub fn classify(key: &str) -> KeyKind {
    if let Some(def) = configs::broker_config(key) {
        return KeyKind::Known(def);
    }
    if let Some(reason) = configs::removed_broker_config(key) {
        return KeyKind::Removed(reason);
    }
    let Some(rest) = key.strip_prefix("listener.name.") else {
        return KeyKind::Unknown;
    };
    let Some((listener, suffix)) = rest.split_once('.') else {
        return KeyKind::Unknown;
    };
    if listener.is_empty() {
        return KeyKind::Unknown;
    }
    // SASL settings may carry a mechanism before the key, as in
    // listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config.
    let def = configs::broker_config(suffix).or_else(|| {
        suffix
            .split_once('.')
            .and_then(|(_, key)| configs::broker_config(key))
    });
    match def {
        Some(def) => KeyKind::PerListener(Some(def)),
        None if suffix.contains("sasl.") || suffix.contains("ssl.") => KeyKind::PerListener(None),
        None => KeyKind::Unknown,
    }
}

/// Reads and parses the properties file into `out`.
pub fn read_file(path: &Path, out: &mut Layered) -> Result<(), ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let text = properties::decode(&bytes);
    let entries = properties::parse(&text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        line: e.line,
        reason: e.reason,
    })?;
    for e in entries {
        out.insert(
            e.key,
            (
                e.value,
                Origin::File {
                    path: path.to_path_buf(),
                    line: e.line,
                },
            ),
        );
    }
    Ok(())
}

/// Maps an environment variable name to a config key the way Kafka's docker
/// images do: drop the prefix, lower-case, then `___` → `-`, `__` → `_` and
/// `_` → `.` (so `KAFKA_LOG_DIRS` is `log.dirs`).
pub fn env_key(var: &str) -> Option<(&'static str, String)> {
    let (prefix, rest) = if let Some(rest) = var.strip_prefix("GREGOR_") {
        ("GREGOR_", rest)
    } else if let Some(rest) = var.strip_prefix("KAFKA_") {
        ("KAFKA_", rest)
    } else {
        return None;
    };
    if rest.is_empty() {
        return None;
    }
    // Control characters cannot occur in a variable name worth mapping, so
    // they serve as placeholders while the single underscores are replaced.
    let key = rest
        .to_ascii_lowercase()
        .replace("___", "\u{1}")
        .replace("__", "\u{2}")
        .replace('_', ".")
        .replace('\u{1}', "-")
        .replace('\u{2}', "_");
    Some((prefix, key))
}

/// Applies environment variables. Environments are noisy (`KAFKA_HOME`,
/// `KAFKA_HEAP_OPTS`, ...), so variables that do not name a known key are
/// skipped silently, except `GREGOR_` ones, which can only be meant for us.
/// `GREGOR_` wins over `KAFKA_` for the same key whatever the order.
pub fn apply_env(env: &[(String, String)], out: &mut Layered, warnings: &mut Vec<String>) {
    for wanted in ["KAFKA_", "GREGOR_"] {
        for (var, value) in env {
            let Some((prefix, key)) = env_key(var) else {
                continue;
            };
            if prefix != wanted {
                continue;
            }
            match classify(&key) {
                KeyKind::Known(_) | KeyKind::PerListener(_) => {
                    out.insert(key, (value.clone(), Origin::Env(var.clone())));
                }
                KeyKind::Removed(reason) if prefix == "GREGOR_" => {
                    warnings.push(format!(
                        "environment variable {var} sets {key}, which is ignored: {reason}"
                    ));
                }
                KeyKind::Unknown if prefix == "GREGOR_" => {
                    warnings.push(format!(
                        "environment variable {var} ({key}) is not a known configuration; ignored"
                    ));
                }
                _ => {}
            }
        }
    }
}

/// Applies `key=value` overrides; the value may itself contain `=`.
pub fn apply_overrides(overrides: &[String], out: &mut Layered) -> Result<(), ConfigError> {
    for o in overrides {
        let (key, value) = o
            .split_once('=')
            .ok_or_else(|| ConfigError::BadOverride(o.clone()))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::BadOverride(o.clone()));
        }
        out.insert(key.to_string(), (value.to_string(), Origin::Override));
    }
    Ok(())
}
