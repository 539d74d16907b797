//! The address-shaped config values: listener endpoints
//! (`NAME://host:port`), the listener security protocol map, and the
//! controller quorum voters (`id@host:port`). Shared by the validators and
//! by the broker, which resolves listeners at start-up.

use std::fmt;

use super::validate::parse_list;

/// Kafka's security protocols, by the names used in configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Looks a protocol up by name, ignoring case as Kafka does.
    pub fn from_name(name: &str) -> Option<SecurityProtocol> {
        SecurityProtocol::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The `security_protocol` id Kafka uses on the wire (e.g. in
    /// BrokerRegistration records).
    pub fn id(self) -> i16 {
        match self {
            SecurityProtocol::Plaintext => 0,
            SecurityProtocol::Ssl => 1,
            SecurityProtocol::SaslPlaintext => 2,
            SecurityProtocol::SaslSsl => 3,
        }
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `NAME://host:port` entry of `listeners` or `advertised.listeners`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Listener name, upper-cased as Kafka normalises it.
    pub listener: String,
    /// Host without IPv6 brackets; empty means every interface.
    pub host: String,
    pub port: u16,
}

/// Parses a comma-separated endpoint list. Empty entries are skipped, as
/// Kafka's CSV parsing does.
pub fn parse_endpoints(value: &str) -> Result<Vec<Endpoint>, String> {
    parse_list(value)
        .into_iter()
        .filter(|e| !e.is_empty())
        .map(parse_endpoint)
        .collect()
}

fn parse_endpoint(entry: &str) -> Result<Endpoint, String> {
    let unparsable = || format!("Unable to parse {entry} to a broker endpoint");
    let (name, address) = entry.split_once("://").ok_or_else(unparsable)?;
    let (host, port) = address.rsplit_once(':').ok_or_else(unparsable)?;
    // IPv6 literals come in brackets, e.g. PLAINTEXT://[::1]:9092; without
    // brackets the last colon still separates the port, as in Kafka.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host_ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '%' | '.' | '_' | ':'));
    if name.is_empty() || !host_ok {
        return Err(unparsable());
    }
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{port} in {entry} is not a port number between 0 and 65535"))?;
    Ok(Endpoint {
        listener: name.to_ascii_uppercase(),
        host: host.to_string(),
        port,
    })
}

/// Parses `NAME:PROTOCOL` pairs into (upper-cased name, protocol).
pub fn parse_protocol_map(value: &str) -> Result<Vec<(String, SecurityProtocol)>, String> {
    let mut out: Vec<(String, SecurityProtocol)> = Vec::new();
    for entry in parse_list(value).into_iter().filter(|e| !e.is_empty()) {
        let (name, protocol) = entry
            .split_once(':')
            .ok_or_else(|| format!("{entry} is not of the form LISTENER_NAME:SECURITY_PROTOCOL"))?;
        let name = name.trim().to_ascii_uppercase();
        if name.is_empty() {
            return Err(format!("{entry} has an empty listener name"));
        }
        let protocol = SecurityProtocol::from_name(protocol).ok_or_else(|| {
            format!(
                "{} is not a security protocol (one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)",
                protocol.trim()
            )
        })?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("listener name {name} is mapped more than once"));
        }
        out.push((name, protocol));
    }
    Ok(out)
}

/// One `id@host:port` entry of `controller.quorum.voters`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Voter {
    pub id: i32,
    pub host: String,
    pub port: u16,
}

pub fn parse_voters(value: &str) -> Result<Vec<Voter>, String> {
    let mut out = Vec::new();
    for entry in parse_list(value).into_iter().filter(|e| !e.is_empty()) {
        let bad = || format!("{entry} is not of the form {{id}}@{{host}}:{{port}}");
        let (id, address) = entry.split_once('@').ok_or_else(bad)?;
        let id: i32 = id
            .trim()
            .parse()
            .ok()
            .filter(|id| *id >= 0)
            .ok_or_else(bad)?;
        let (host, port) = parse_host_port(address).map_err(|_| bad())?;
        out.push(Voter { id, host, port });
    }
    Ok(out)
}

/// Parses `host:port` (IPv6 hosts in brackets); the host must be non-empty.
pub fn parse_host_port(entry: &str) -> Result<(String, u16), String> {
    let bad = || format!("{entry} is not of the form host:port");
    let (host, port) = entry.trim().rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    Ok((host.to_string(), port))
}
