//! Parsing a config value as its type and checking it with its validator,
//! with Kafka's `ConfigDef` rules and wording.

use super::endpoints::{parse_endpoints, parse_host_port, parse_protocol_map, parse_voters};
use super::{ConfigDef, ConfigError, ConfigType, Validator};

/// Checks `value` against `def`: first that it parses as the config's type,
/// then its validator. Like Kafka, surrounding whitespace is ignored.
pub fn validate(def: &ConfigDef, value: &str) -> Result<(), ConfigError> {
    let v = value.trim();
    let number = parse_type(def, v)?;
    check_validator(def, v, number)
}

/// Splits a LIST value as Kafka does: an empty (or blank) value is the empty
/// list; otherwise elements are separated by commas with surrounding
/// whitespace removed, and empty elements are kept (so validators see them).
pub fn parse_list(value: &str) -> Vec<&str> {
    let v = value.trim();
    if v.is_empty() {
        return Vec::new();
    }
    v.split(',').map(str::trim).collect()
}

/// Parses a BOOLEAN value, ignoring case like Kafka.
pub fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A parsed number, kept so the range validators need not parse again.
#[derive(Clone, Copy)]
enum Number {
    Integer(i64),
    Float(f64),
}

fn parse_type(def: &ConfigDef, v: &str) -> Result<Option<Number>, ConfigError> {
    let not_a_number = || {
        ConfigError::invalid(
            def.name,
            v,
            format!("Not a number of type {}", def.ty.name()),
        )
    };
    let number = match def.ty {
        ConfigType::Boolean => {
            parse_bool(v).ok_or_else(|| {
                ConfigError::invalid(def.name, v, "Expected value to be either true or false")
            })?;
            None
        }
        ConfigType::Int => Some(Number::Integer(
            v.parse::<i32>().map_err(|_| not_a_number())?.into(),
        )),
        ConfigType::Short => Some(Number::Integer(
            v.parse::<i16>().map_err(|_| not_a_number())?.into(),
        )),
        ConfigType::Long => Some(Number::Integer(
            v.parse::<i64>().map_err(|_| not_a_number())?,
        )),
        ConfigType::Double => Some(Number::Float(v.parse::<f64>().map_err(|_| not_a_number())?)),
        ConfigType::Class => {
            if !is_class_name(v) {
                return Err(ConfigError::invalid(
                    def.name,
                    v,
                    "Expected a fully qualified Java class name",
                ));
            }
            None
        }
        ConfigType::String | ConfigType::List | ConfigType::Password => None,
    };
    Ok(number)
}

/// A dotted sequence of Java identifiers (nested classes use `$`).
fn is_class_name(v: &str) -> bool {
    !v.is_empty()
        && v.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
                && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        })
}

fn check_validator(def: &ConfigDef, v: &str, number: Option<Number>) -> Result<(), ConfigError> {
    let invalid = |reason: String| Err(ConfigError::invalid(def.name, v, reason));
    match def.validator {
        Validator::None => Ok(()),
        Validator::AtLeast(min) => check_range(def, v, number, Some(min), None),
        Validator::Between(min, max) => check_range(def, v, number, Some(min), Some(max)),
        Validator::OneOf(allowed) => {
            if allowed.contains(&v) {
                Ok(())
            } else {
                invalid(format!("String must be one of: {}", allowed.join(", ")))
            }
        }
        Validator::OneOfIgnoreCase(allowed) => {
            if allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) {
                Ok(())
            } else {
                invalid(format!(
                    "String must be one of (case insensitive): {}",
                    allowed.join(", ")
                ))
            }
        }
        // Kafka names the offending element, not the whole list.
        Validator::ListOf(allowed) => {
            match parse_list(v).into_iter().find(|e| !allowed.contains(e)) {
                None => Ok(()),
                Some(bad) => Err(ConfigError::invalid(
                    def.name,
                    bad,
                    format!("String must be one of: {}", allowed.join(", ")),
                )),
            }
        }
        Validator::NonEmptyString => {
            if v.is_empty() {
                invalid("String must be non-empty".to_string())
            } else {
                Ok(())
            }
        }
        Validator::GzipLevel => match number {
            Some(Number::Integer(n)) if n == -1 || (1..=9).contains(&n) => Ok(()),
            _ => {
                invalid("Value must be between 1 and 9, or -1 for the codec's default".to_string())
            }
        },
        Validator::ThrottledReplicas => check_throttled_replicas(v).or_else(invalid),
        Validator::QuorumVoters => parse_voters(v).map(drop).or_else(invalid),
        Validator::HostPorts => parse_list(v)
            .into_iter()
            .filter(|e| !e.is_empty())
            .try_for_each(|e| parse_host_port(e).map(drop))
            .or_else(invalid),
        Validator::Listeners => parse_endpoints(v).map(drop).or_else(invalid),
        Validator::ListenerProtocolMap => parse_protocol_map(v).map(drop).or_else(invalid),
    }
}

fn check_range(
    def: &ConfigDef,
    v: &str,
    number: Option<Number>,
    min: Option<i64>,
    max: Option<i64>,
) -> Result<(), ConfigError> {
    // Bounds are small integers, so comparing doubles against them as f64 is exact.
    let (below, above) = match number {
        Some(Number::Integer(n)) => (min.is_some_and(|m| n < m), max.is_some_and(|m| n > m)),
        Some(Number::Float(f)) => (
            min.is_some_and(|m| f < m as f64),
            max.is_some_and(|m| f > m as f64),
        ),
        // A range on a non-numeric config is a table mistake that tests catch;
        // at run time there is nothing to compare.
        None => (false, false),
    };
    match (below, above, min, max) {
        (true, _, Some(m), _) => Err(ConfigError::invalid(
            def.name,
            v,
            format!("Value must be at least {m}"),
        )),
        (_, true, _, Some(m)) => Err(ConfigError::invalid(
            def.name,
            v,
            format!("Value must be no more than {m}"),
        )),
        _ => Ok(()),
    }
}

/// `*` alone, or `partition:broker` pairs of non-negative integers.
fn check_throttled_replicas(v: &str) -> Result<(), String> {
    let items = parse_list(v);
    if items == ["*"] {
        return Ok(());
    }
    let is_pair = |e: &str| {
        e.split_once(':').is_some_and(|(p, b)| {
            !p.is_empty()
                && !b.is_empty()
                && p.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
    };
    if items.iter().all(|e| is_pair(e)) {
        Ok(())
    } else {
        Err("must be the literal '*' or a list of replicas as partitionId:brokerId,partitionId:brokerId,...".to_string())
    }
}
