//! `gregor quotas describe|alter`: client quotas as kafka-configs.sh shows
//! and changes them (`--entity-type users|clients|ips` with
//! `--entity-name` or `--entity-default`, or the `--user`, `--client`,
//! `--ip` and `--*-defaults` shorthands; `--add-config k=v,...` and
//! `--delete-config k,...`). librdkafka has no client-quota API, so the
//! requests go through `wire.rs`.

use std::io::Write;

use kafka_protocol::messages::alter_client_quotas_request::{
    EntityData as AlterEntity, EntryData as AlterEntry, OpData,
};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{AlterClientQuotasRequest, DescribeClientQuotasRequest};
use kafka_protocol::protocol::StrBytes;

use super::config::ConnectionArgs;
use super::errors::CliError;
use super::wire::{error_name, WireClient};

/// Both APIs' first flexible version, which every Kafka since 2.8 serves.
const QUOTAS_API_VERSION: i16 = 1;
const MATCH_TYPE_EXACT: i8 = 0;
const MATCH_TYPE_DEFAULT: i8 = 1;
const MATCH_TYPE_SPECIFIED: i8 = 2;

#[derive(clap::Subcommand, Debug)]
pub enum QuotasCommand {
    /// Show configured client quotas (all of them without an entity).
    Describe(DescribeArgs),
    /// Set (--add-config) or remove (--delete-config) quotas of one entity.
    Alter(AlterArgs),
}

/// Which entity: kafka-configs.sh's flags for client quotas.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EntityArgs {
    /// users, clients or ips (with --entity-name or --entity-default).
    #[arg(long = "entity-type", value_name = "TYPE")]
    pub entity_type: Option<String>,
    /// The entity's name.
    #[arg(
        long = "entity-name",
        value_name = "NAME",
        conflicts_with = "entity_default"
    )]
    pub entity_name: Option<String>,
    /// The default entity of --entity-type.
    #[arg(long = "entity-default")]
    pub entity_default: bool,
    /// A user principal name (shorthand for --entity-type users --entity-name).
    #[arg(long, value_name = "NAME", conflicts_with = "user_defaults")]
    pub user: Option<String>,
    /// The default user.
    #[arg(long = "user-defaults")]
    pub user_defaults: bool,
    /// A client id.
    #[arg(long, value_name = "NAME", conflicts_with = "client_defaults")]
    pub client: Option<String>,
    /// The default client id.
    #[arg(long = "client-defaults")]
    pub client_defaults: bool,
    /// An IP address (connection_creation_rate quotas).
    #[arg(long, value_name = "ADDRESS", conflicts_with = "ip_defaults")]
    pub ip: Option<String>,
    /// The default IP.
    #[arg(long = "ip-defaults")]
    pub ip_defaults: bool,
}

#[derive(clap::Args, Debug)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    #[command(flatten)]
    pub entity: EntityArgs,
}

#[derive(clap::Args, Debug)]
pub struct AlterArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    #[command(flatten)]
    pub entity: EntityArgs,
    /// Quotas to set: KEY=VALUE[,KEY=VALUE...] (producer_byte_rate,
    /// consumer_byte_rate, request_percentage, controller_mutation_rate,
    /// connection_creation_rate).
    #[arg(long = "add-config", value_name = "KEY=VALUE,...")]
    pub add_config: Option<String>,
    /// Quota keys to remove: KEY[,KEY...].
    #[arg(long = "delete-config", value_name = "KEY,...", value_delimiter = ',')]
    pub delete_config: Vec<String>,
    /// Ask the broker to validate only.
    #[arg(long = "validate-only")]
    pub validate_only: bool,
}

/// (entity type, name or `None` for the default, or `Err(())` for
/// "any named entity of the type", which only describe uses).
type Component = (&'static str, Result<Option<String>, ()>);

fn components(e: &EntityArgs) -> Result<Vec<Component>, CliError> {
    let mut out: Vec<Component> = Vec::new();
    if let Some(t) = &e.entity_type {
        let kind = match t.as_str() {
            "users" | "user" => "user",
            "clients" | "client" | "client-id" => "client-id",
            "ips" | "ip" => "ip",
            other => {
                return Err(CliError::Usage(format!(
                    "--entity-type {other} is not a client quota entity type; use users, clients or ips"
                )))
            }
        };
        let name = match (&e.entity_name, e.entity_default) {
            (Some(n), _) => Ok(Some(n.clone())),
            (None, true) => Ok(None),
            (None, false) => Err(()),
        };
        out.push((kind, name));
    } else if e.entity_name.is_some() || e.entity_default {
        return Err(CliError::Usage(
            "--entity-name and --entity-default need --entity-type".into(),
        ));
    }
    let mut shorthand = |kind: &'static str, name: &Option<String>, default: bool| {
        if let Some(n) = name {
            out.push((kind, Ok(Some(n.clone()))));
        } else if default {
            out.push((kind, Ok(None)));
        }
    };
    shorthand("user", &e.user, e.user_defaults);
    shorthand("client-id", &e.client, e.client_defaults);
    shorthand("ip", &e.ip, e.ip_defaults);
    let mut kinds: Vec<&str> = out.iter().map(|(k, _)| *k).collect();
    kinds.sort_unstable();
    if kinds.windows(2).any(|w| w[0] == w[1]) {
        return Err(CliError::Usage("each entity type may be named once".into()));
    }
    Ok(out)
}

pub fn run(cmd: QuotasCommand, out: &mut impl Write) -> Result<(), CliError> {
    match cmd {
        QuotasCommand::Describe(args) => describe(args, out),
        QuotasCommand::Alter(args) => alter(args, out),
    }
}

fn describe(args: DescribeArgs, out: &mut impl Write) -> Result<(), CliError> {
    let parts = components(&args.entity)?;
    let filter = parts
        .iter()
        .map(|(kind, name)| {
            let c = ComponentData::default().with_entity_type(StrBytes::from_static_str(kind));
            match name {
                Ok(Some(n)) => c
                    .with_match_type(MATCH_TYPE_EXACT)
                    .with_match(Some(StrBytes::from_string(n.clone()))),
                // The field's default is "", not null; these match types need null.
                Ok(None) => c.with_match_type(MATCH_TYPE_DEFAULT).with_match(None),
                Err(()) => c.with_match_type(MATCH_TYPE_SPECIFIED).with_match(None),
            }
        })
        .collect();
    // kafka-configs.sh asks for exactly the named entity; with no entity
    // at all every quota is listed.
    let request = DescribeClientQuotasRequest::default()
        .with_components(filter)
        .with_strict(!parts.is_empty());
    let mut client = WireClient::connect(&args.conn)?;
    let response = client.send(&request, QUOTAS_API_VERSION)?;
    if response.error_code != 0 {
        return Err(broker_error(
            response.error_code,
            response.error_message.as_deref(),
        ));
    }
    let write = |e| CliError::io("could not write to stdout", e);
    for entry in response.entries.unwrap_or_default() {
        let entity: Vec<(String, Option<String>)> = entry
            .entity
            .iter()
            .map(|e| {
                (
                    e.entity_type.to_string(),
                    e.entity_name.as_ref().map(|n| n.to_string()),
                )
            })
            .collect();
        let values: Vec<String> = entry
            .values
            .iter()
            .map(|v| format!("{}={}", v.key.as_str(), java_double(v.value)))
            .collect();
        writeln!(
            out,
            "Quota configs for {} are {}",
            describe_entity(&entity),
            values.join(", ")
        )
        .map_err(write)?;
    }
    Ok(())
}

fn alter(args: AlterArgs, out: &mut impl Write) -> Result<(), CliError> {
    let parts = components(&args.entity)?;
    if parts.is_empty() {
        return Err(CliError::Usage(
            "name the entity: --entity-type users|clients|ips with --entity-name or --entity-default (or --user/--client/--ip)".into(),
        ));
    }
    let mut ops = Vec::new();
    for pair in args
        .add_config
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|p| !p.trim().is_empty())
    {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("--add-config entry {pair:?} is not KEY=VALUE"))
        })?;
        let value: f64 = value.trim().parse().map_err(|_| {
            CliError::Usage(format!(
                "the value of {} is not a number: {value:?}",
                key.trim()
            ))
        })?;
        ops.push(
            OpData::default()
                .with_key(StrBytes::from_string(key.trim().to_string()))
                .with_value(value),
        );
    }
    for key in args
        .delete_config
        .iter()
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
    {
        ops.push(
            OpData::default()
                .with_key(StrBytes::from_string(key.to_string()))
                .with_remove(true),
        );
    }
    if ops.is_empty() {
        return Err(CliError::Usage(
            "give --add-config and/or --delete-config".into(),
        ));
    }
    let mut entity = Vec::new();
    let mut described = Vec::new();
    for (kind, name) in &parts {
        let name = name.clone().map_err(|()| {
            CliError::Usage(format!(
                "name the {kind} with --entity-name, or use --entity-default"
            ))
        })?;
        entity.push(
            AlterEntity::default()
                .with_entity_type(StrBytes::from_static_str(kind))
                .with_entity_name(name.clone().map(StrBytes::from_string)),
        );
        described.push((kind.to_string(), name));
    }
    let request = AlterClientQuotasRequest::default()
        .with_entries(vec![AlterEntry::default()
            .with_entity(entity)
            .with_ops(ops)])
        .with_validate_only(args.validate_only);
    let mut client = WireClient::connect(&args.conn)?;
    let response = client.send(&request, QUOTAS_API_VERSION)?;
    for entry in &response.entries {
        if entry.error_code != 0 {
            return Err(broker_error(
                entry.error_code,
                entry.error_message.as_deref(),
            ));
        }
    }
    let verb = if args.validate_only {
        "Validated"
    } else {
        "Completed updating"
    };
    writeln!(out, "{verb} config for {}.", describe_entity(&described))
        .map_err(|e| CliError::io("could not write to stdout", e))
}

fn broker_error(code: i16, message: Option<&str>) -> CliError {
    let message = message
        .filter(|m| !m.is_empty())
        .unwrap_or("the broker gave no message");
    CliError::Client(format!("{}: {message}", error_name(code)))
}

/// "user-principal 'alice', client-id 'app'" as kafka-configs.sh words it.
fn describe_entity(entity: &[(String, Option<String>)]) -> String {
    let mut sorted: Vec<&(String, Option<String>)> = entity.iter().collect();
    // Users first, then client ids, then IPs, as Kafka prints them.
    sorted.sort_by_key(|(t, _)| match t.as_str() {
        "user" => 0,
        "client-id" => 1,
        _ => 2,
    });
    sorted
        .iter()
        .map(|(t, n)| {
            let t = if t == "user" {
                "user-principal"
            } else {
                t.as_str()
            };
            match n {
                Some(n) => format!("{t} '{n}'"),
                None => format!("the default {t}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A double as Java prints it for whole numbers ("1024.0").
fn java_double(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_are_described_like_kafka_configs() {
        let e = vec![
            ("client-id".to_string(), Some("app".to_string())),
            ("user".to_string(), None),
        ];
        assert_eq!(
            describe_entity(&e),
            "the default user-principal, client-id 'app'"
        );
        assert_eq!(java_double(1024.0), "1024.0");
        assert_eq!(java_double(12.5), "12.5");
    }

    #[test]
    fn entity_flags_become_components() {
        let args = EntityArgs {
            entity_type: Some("users".into()),
            entity_default: true,
            client: Some("c".into()),
            ..EntityArgs::default()
        };
        assert_eq!(
            components(&args).unwrap(),
            vec![("user", Ok(None)), ("client-id", Ok(Some("c".into())))]
        );
        let twice = EntityArgs {
            entity_type: Some("clients".into()),
            entity_name: Some("a".into()),
            client: Some("b".into()),
            ..EntityArgs::default()
        };
        assert!(components(&twice).is_err());
        let unknown = EntityArgs {
            entity_type: Some("topics".into()),
            ..EntityArgs::default()
        };
        assert!(components(&unknown).is_err());
    }
}
