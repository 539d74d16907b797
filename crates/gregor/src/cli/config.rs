//! Client configuration shared by every command: the `--bootstrap-server`,
//! `--command-config` and `--property`/`-X` flags, and how they become a
//! librdkafka `ClientConfig`.
//!
//! Precedence, lowest first: the CLI's own defaults, the `--command-config`
//! file, `--bootstrap-server`, then each `--property` in the order given.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::ClientConfig;

use super::errors::CliError;

/// Connection flags every command takes, named as in Kafka's shell tools.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// The broker(s) to bootstrap from: HOST:PORT[,HOST:PORT...].
    #[arg(
        long = "bootstrap-server",
        alias = "broker-list",
        value_name = "HOST:PORT",
        default_value = "localhost:9092"
    )]
    pub bootstrap_server: String,

    /// A properties file (key=value lines) of client settings, such as
    /// security.protocol or sasl.*; librdkafka names, plus sasl.jaas.config.
    #[arg(
        long = "command-config",
        value_name = "FILE",
        alias = "producer.config",
        alias = "consumer.config"
    )]
    pub command_config: Option<PathBuf>,

    /// A client property KEY=VALUE (repeatable). For produce and consume,
    /// the console reader/formatter keys (parse.key, print.key, ...) are
    /// taken by the tool and everything else goes to librdkafka.
    #[arg(
        long = "property",
        short = 'X',
        value_name = "KEY=VALUE",
        value_parser = parse_key_value,
        alias = "producer-property",
        alias = "consumer-property"
    )]
    pub properties: Vec<(String, String)>,

    /// How long to wait for the cluster to answer a request, in milliseconds.
    #[arg(
        long = "request-timeout-ms",
        value_name = "MS",
        default_value_t = 10_000
    )]
    pub request_timeout_ms: u64,
}

impl ConnectionArgs {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The user's properties: the `--command-config` file, then the
    /// `--property` flags.
    pub fn user_properties(&self) -> Result<UserProperties, CliError> {
        let file = match &self.command_config {
            Some(path) => read_properties_file(path)?,
            None => Vec::new(),
        };
        Ok(UserProperties {
            file,
            flags: self.properties.clone(),
        })
    }
}

/// Properties the user gave, kept apart by origin because
/// `--bootstrap-server` overrides the file but not the flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProperties {
    pub file: Vec<(String, String)>,
    pub flags: Vec<(String, String)>,
}

impl UserProperties {
    /// Removes the properties a console tool interprets itself (such as
    /// `parse.key` or `print.key`) and returns them in the order given.
    pub fn take_tool_properties(
        &mut self,
        is_tool_key: impl Fn(&str) -> bool,
    ) -> Vec<(String, String)> {
        let mut taken = Vec::new();
        for list in [&mut self.file, &mut self.flags] {
            let (tool, client): (Vec<_>, Vec<_>) =
                list.drain(..).partition(|(key, _)| is_tool_key(key));
            taken.extend(tool);
            *list = client;
        }
        taken
    }
}

/// Which kind of client a configuration is for; each gets Kafka-tool-like
/// defaults that differ from librdkafka's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    Admin,
    Producer,
    Consumer,
}

/// Builds the librdkafka configuration from the CLI's defaults, the
/// bootstrap flag and `props` (user properties the tool did not keep for
/// itself).
pub fn client_config(
    conn: &ConnectionArgs,
    role: ClientRole,
    props: &UserProperties,
) -> Result<ClientConfig, CliError> {
    let mut config = ClientConfig::new();
    let timeout_ms = conn.request_timeout_ms.to_string();
    // A dead or unreachable broker must not hang a command: bound connection
    // setup by the request timeout as well.
    config.set("socket.connection.setup.timeout.ms", &timeout_ms);
    match role {
        ClientRole::Admin => {
            // The admin client is a librdkafka producer underneath, and a
            // producer's metadata requests may create topics on brokers with
            // auto.create.topics.enable; describing a typo must not do that.
            config.set("allow.auto.create.topics", "false");
            config.set("client.id", "gregor-admin");
        }
        ClientRole::Producer => {
            config.set("client.id", "gregor-console-producer");
            // Java's partitioner, so keyed records land on the same
            // partitions as with Kafka's own tools and clients.
            config.set("partitioner", "murmur2_random");
            // Kafka's delivery.timeout.ms default; librdkafka's is 300 s.
            config.set("message.timeout.ms", "120000");
        }
        ClientRole::Consumer => {
            config.set("client.id", "gregor-console-consumer");
            // kafka-console-consumer reads uncommitted data unless told
            // otherwise; librdkafka defaults to read_committed.
            config.set("isolation.level", "read_uncommitted");
            config.set("enable.partition.eof", "false");
        }
    }
    for (key, value) in translate_java_properties(&props.file)? {
        config.set(key, value);
    }
    config.set("bootstrap.servers", &conn.bootstrap_server);
    for (key, value) in translate_java_properties(&props.flags)? {
        config.set(key, value);
    }
    // rdkafka derives its log level from the `log` crate, which the CLI does
    // not set up; the client context needs warnings to explain connection
    // failures, and everything when the user asks for `debug`.
    config.set_log_level(if config.get("debug").is_some() {
        RDKafkaLogLevel::Debug
    } else {
        RDKafkaLogLevel::Warning
    });
    Ok(config)
}

/// Java client settings that have a librdkafka equivalent are translated,
/// and Java-only serializer settings are dropped, so a `client.properties`
/// written for Kafka's tools works here too.
pub fn translate_java_properties(
    props: &[(String, String)],
) -> Result<Vec<(String, String)>, CliError> {
    let mut out = Vec::with_capacity(props.len());
    for (key, value) in props {
        match key.as_str() {
            "sasl.jaas.config" => {
                let (user, pass) = parse_jaas_credentials(value).ok_or_else(|| {
                    CliError::Input(format!(
                        "sasl.jaas.config: expected username=\"...\" and password=\"...\" \
                         options, got: {value}"
                    ))
                })?;
                out.push(("sasl.username".to_string(), user));
                out.push(("sasl.password".to_string(), pass));
            }
            "key.serializer" | "value.serializer" | "key.deserializer" | "value.deserializer" => {}
            _ => out.push((key.clone(), value.clone())),
        }
    }
    Ok(out)
}

/// Extracts `username="..."` and `password="..."` from a JAAS line such as
/// `org.apache.kafka.common.security.plain.PlainLoginModule required
/// username="alice" password="secret";`.
fn parse_jaas_credentials(jaas: &str) -> Option<(String, String)> {
    Some((
        jaas_option(jaas, "username")?,
        jaas_option(jaas, "password")?,
    ))
}

fn jaas_option(jaas: &str, name: &str) -> Option<String> {
    let mut rest = jaas;
    while let Some(pos) = rest.find(name) {
        let before_ok = pos == 0 || rest.as_bytes()[pos - 1].is_ascii_whitespace();
        let after = rest[pos + name.len()..].trim_start();
        if before_ok {
            if let Some(quoted) = after.strip_prefix('=').map(str::trim_start) {
                let quoted = quoted.strip_prefix('"')?;
                let end = quoted.find('"')?;
                return Some(quoted[..end].to_string());
            }
        }
        rest = &rest[pos + name.len()..];
    }
    None
}

/// `KEY=VALUE`, split at the first `=`; the value may be empty.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got '{s}'")),
    }
}

/// Largest properties file the CLI reads; client configs are a few lines.
const PROPERTIES_FILE_BYTES_MAX: u64 = 1024 * 1024;

fn read_properties_file(path: &Path) -> Result<Vec<(String, String)>, CliError> {
    let context = || format!("could not read --command-config file {}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| CliError::io(context(), e))?;
    if meta.len() > PROPERTIES_FILE_BYTES_MAX {
        return Err(CliError::Input(format!(
            "{}: larger than {PROPERTIES_FILE_BYTES_MAX} bytes; is it really a properties file?",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(context(), e))?;
    parse_properties(&text).map_err(|msg| CliError::Input(format!("{}: {msg}", path.display())))
}

/// Parses Java-style `.properties` text: `key=value` or `key: value` lines,
/// `#`/`!` comments, blank lines, and `\` line continuations.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(continued) = line.strip_suffix('\\') {
            pending.push_str(continued);
            continue;
        }
        pending.push_str(line);
        let logical = std::mem::take(&mut pending);
        let sep = logical.find(['=', ':']).ok_or_else(|| {
            format!(
                "line {}: expected key=value, got '{}'",
                index + 1,
                logical.trim()
            )
        })?;
        let key = logical[..sep].trim();
        if key.is_empty() {
            return Err(format!("line {}: empty key", index + 1));
        }
        out.push((key.to_string(), logical[sep + 1..].trim().to_string()));
    }
    Ok(out)
}

/// Turns `\t`, `\n`, `\r` and `\\` in a separator given on the command line
/// into the characters they name, so `key.separator=\t` works without
/// shell quoting tricks.
pub fn unescape(s: &str) -> String {
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
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Kafka's tools read booleans as "true" (any case, trimmed) or not.
pub fn parse_bool(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(props: &[(&str, &str)]) -> ConnectionArgs {
        ConnectionArgs {
            bootstrap_server: "broker:9092".into(),
            command_config: None,
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            request_timeout_ms: 5000,
        }
    }

    #[test]
    fn key_value_splits_at_first_equals() {
        assert_eq!(
            parse_key_value("a.b=c=d").unwrap(),
            ("a.b".to_string(), "c=d".to_string())
        );
        assert_eq!(
            parse_key_value("k=").unwrap(),
            ("k".to_string(), String::new())
        );
        assert!(parse_key_value("novalue").is_err());
        assert!(parse_key_value("=v").is_err());
    }

    #[test]
    fn properties_file_syntax() {
        let text = "# comment\n! also\n\nsecurity.protocol=SASL_PLAINTEXT\n\
                    sasl.mechanism : PLAIN\nlong=a\\\n  b\n";
        let props = parse_properties(text).unwrap();
        assert_eq!(
            props,
            vec![
                ("security.protocol".into(), "SASL_PLAINTEXT".into()),
                ("sasl.mechanism".into(), "PLAIN".into()),
                ("long".into(), "ab".into()),
            ]
        );
        assert!(parse_properties("just-a-word\n").is_err());
    }

    #[test]
    fn jaas_config_becomes_sasl_username_and_password() {
        let props = vec![(
            "sasl.jaas.config".to_string(),
            "org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"alice\" password=\"s3cret\";"
                .to_string(),
        )];
        let out = translate_java_properties(&props).unwrap();
        assert_eq!(
            out,
            vec![
                ("sasl.username".into(), "alice".into()),
                ("sasl.password".into(), "s3cret".into())
            ]
        );
    }

    #[test]
    fn flags_override_defaults_and_bootstrap() {
        let c = conn(&[("client.id", "mine"), ("bootstrap.servers", "other:1")]);
        let props = c.user_properties().unwrap();
        let config = client_config(&c, ClientRole::Producer, &props).unwrap();
        assert_eq!(config.get("client.id"), Some("mine"));
        assert_eq!(config.get("bootstrap.servers"), Some("other:1"));
        assert_eq!(config.get("partitioner"), Some("murmur2_random"));
        assert_eq!(
            config.get("socket.connection.setup.timeout.ms"),
            Some("5000")
        );
    }

    #[test]
    fn tool_properties_are_taken_out_in_order() {
        let mut props = UserProperties {
            file: vec![
                ("parse.key".into(), "true".into()),
                ("acks".into(), "1".into()),
            ],
            flags: vec![
                ("key.separator".into(), ":".into()),
                ("linger.ms".into(), "5".into()),
            ],
        };
        let tool = props.take_tool_properties(|k| k == "parse.key" || k == "key.separator");
        assert_eq!(
            tool,
            vec![
                ("parse.key".into(), "true".into()),
                ("key.separator".into(), ":".into())
            ]
        );
        assert_eq!(props.file, vec![("acks".to_string(), "1".to_string())]);
        assert_eq!(
            props.flags,
            vec![("linger.ms".to_string(), "5".to_string())]
        );
    }

    #[test]
    fn consumer_defaults_match_kafka_console_consumer() {
        let c = conn(&[]);
        let config = client_config(&c, ClientRole::Consumer, &UserProperties::default()).unwrap();
        assert_eq!(config.get("isolation.level"), Some("read_uncommitted"));
        assert_eq!(config.get("bootstrap.servers"), Some("broker:9092"));
    }

    #[test]
    fn unescape_handles_common_escapes() {
        assert_eq!(unescape("\\t"), "\t");
        assert_eq!(unescape("a\\nb"), "a\nb");
        assert_eq!(unescape("\\\\"), "\\");
        assert_eq!(unescape("\\x"), "\\x");
        assert_eq!(unescape(":"), ":");
    }

    #[test]
    fn bools_are_read_like_kafka() {
        assert!(parse_bool("true"));
        assert!(parse_bool(" TRUE "));
        assert!(!parse_bool("yes"));
        assert!(!parse_bool(""));
    }
}
