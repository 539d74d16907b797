//! `gregor configs describe|alter`, like `kafka-configs.sh --describe` and
//! `--alter` for topics, brokers and groups: the same flags, the same output lines
//! (`  key=value sensitive=false synonyms={SOURCE:key=value, ...}`), and
//! IncrementalAlterConfigs with SET for `--add-config` and DELETE for
//! `--delete-config`. Requests go through `wire.rs` so that the cluster
//! default (`--entity-default`, resource name "") can be named.

use std::io::Write;

use gregor_protocol::kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use gregor_protocol::kafka_protocol::messages::describe_configs_response::DescribeConfigsResourceResult;
use gregor_protocol::kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use gregor_protocol::kafka_protocol::messages::{
    DescribeConfigsRequest, IncrementalAlterConfigsRequest, ListConfigResourcesRequest,
    ListGroupsRequest, MetadataRequest,
};
use gregor_protocol::kafka_protocol::protocol::StrBytes;

use super::config::ConnectionArgs;
use super::errors::{CliError, Subject};
use super::wire::{response_error, WireClient};

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const RESOURCE_GROUP: i8 = 32;
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const DESCRIBE_CONFIGS_VERSION: i16 = 4;
const ALTER_CONFIGS_VERSION: i16 = 1;
const METADATA_VERSION: i16 = 12;
const LIST_GROUPS_VERSION: i16 = 5;
const LIST_CONFIG_RESOURCES_VERSION: i16 = 1;

#[derive(clap::Subcommand, Debug)]
pub enum ConfigsCommand {
    /// Print the configs of topics, brokers or groups.
    Describe(DescribeArgs),
    /// Set or delete configs of a topic, broker or group.
    Alter(AlterArgs),
}

#[derive(clap::Args, Debug)]
pub struct EntityArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// `topics`, `brokers` or `groups`.
    #[arg(long = "entity-type", value_name = "TYPE")]
    pub entity_type: EntityType,
    /// The topic name, broker id or group id.
    #[arg(
        long = "entity-name",
        value_name = "NAME",
        conflicts_with = "entity_default"
    )]
    pub entity_name: Option<String>,
    /// The cluster-wide default broker config.
    #[arg(long = "entity-default")]
    pub entity_default: bool,
}

#[derive(clap::Args, Debug)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub entity: EntityArgs,
    /// List every config with its effective value, not only the dynamic ones.
    #[arg(long = "all")]
    pub all: bool,
}

#[derive(clap::Args, Debug)]
pub struct AlterArgs {
    #[command(flatten)]
    pub entity: EntityArgs,
    /// Configs to set: k1=v1,k2=[v1,v2,v2],k3=v3 (brackets for list values).
    #[arg(long = "add-config", value_name = "CONFIGS")]
    pub add_config: Option<String>,
    /// Config keys to remove (back to their default): k1,k2.
    #[arg(long = "delete-config", value_name = "KEYS")]
    pub delete_config: Option<String>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    Topics,
    Brokers,
    Groups,
}

impl EntityType {
    fn resource_type(self) -> i8 {
        match self {
            EntityType::Topics => RESOURCE_TOPIC,
            EntityType::Brokers => RESOURCE_BROKER,
            EntityType::Groups => RESOURCE_GROUP,
        }
    }

    fn plural(self) -> &'static str {
        match self {
            EntityType::Topics => "topics",
            EntityType::Brokers => "brokers",
            EntityType::Groups => "groups",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            EntityType::Topics => "topic",
            EntityType::Brokers => "broker",
            EntityType::Groups => "group",
        }
    }
}

pub fn run(cmd: ConfigsCommand, out: &mut impl Write) -> Result<(), CliError> {
    match cmd {
        ConfigsCommand::Describe(args) => describe(args, out),
        ConfigsCommand::Alter(args) => alter(args, out),
    }
}

fn connect(c: &ConnectionArgs) -> Result<WireClient, CliError> {
    WireClient::connect(&c.bootstrap_server, c.request_timeout())
}

/// The resource names to act on: the given name, "" for the default, or
/// (describe only) every topic or broker of the cluster, or every group
/// that exists or has configs (as kafka-configs.sh lists groups).
fn entity_names(e: &EntityArgs, client: &mut WireClient) -> Result<Vec<String>, CliError> {
    if e.entity_default {
        if e.entity_type != EntityType::Brokers {
            return Err(CliError::Usage(format!(
                "--entity-default applies to brokers only; {} have no default entity",
                e.entity_type.plural()
            )));
        }
        return Ok(vec![String::new()]);
    }
    if let Some(name) = &e.entity_name {
        return Ok(vec![name.clone()]);
    }
    if e.entity_type == EntityType::Groups {
        return group_names(client);
    }
    let meta = client.call(&MetadataRequest::default(), METADATA_VERSION)?;
    let mut names: Vec<String> = match e.entity_type {
        EntityType::Topics => meta
            .topics
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
            .collect(),
        EntityType::Brokers => meta.brokers.iter().map(|b| b.node_id.to_string()).collect(),
        EntityType::Groups => Vec::new(),
    };
    names.sort();
    Ok(names)
}

/// Every group the cluster knows, with members or offsets (ListGroups) or
/// only with configs (ListConfigResources), once each and sorted.
fn group_names(client: &mut WireClient) -> Result<Vec<String>, CliError> {
    let listed = client.call(&ListGroupsRequest::default(), LIST_GROUPS_VERSION)?;
    if listed.error_code != 0 {
        return Err(response_error(listed.error_code, None, Subject::Cluster));
    }
    let req = ListConfigResourcesRequest::default().with_resource_types(vec![RESOURCE_GROUP]);
    let configured = client.call(&req, LIST_CONFIG_RESOURCES_VERSION)?;
    if configured.error_code != 0 {
        return Err(response_error(
            configured.error_code,
            None,
            Subject::Cluster,
        ));
    }
    let names: std::collections::BTreeSet<String> = listed
        .groups
        .iter()
        .map(|g| g.group_id.to_string())
        .chain(
            configured
                .config_resources
                .iter()
                .map(|r| r.resource_name.to_string()),
        )
        .collect();
    Ok(names.into_iter().collect())
}

fn describe(args: DescribeArgs, out: &mut impl Write) -> Result<(), CliError> {
    let e = &args.entity;
    let mut client = connect(&e.connection)?;
    for name in entity_names(e, &mut client)? {
        let configs = describe_one(&mut client, e.entity_type, &name)?;
        // Without --all, kafka-configs.sh shows only what was set dynamically
        // on this very entity.
        let wanted_source = match (e.entity_type, name.is_empty()) {
            (EntityType::Topics, _) => 1,
            (EntityType::Brokers, false) => 2,
            (EntityType::Brokers, true) => 3,
            (EntityType::Groups, _) => 8,
        };
        let heading = if name.is_empty() {
            "Default configs for brokers in the cluster are:".to_string()
        } else {
            let which = if args.all { "All" } else { "Dynamic" };
            format!(
                "{which} configs for {} {name} are:",
                e.entity_type.singular()
            )
        };
        writeln!(out, "{heading}").map_err(write_error)?;
        let mut shown: Vec<&DescribeConfigsResourceResult> = configs
            .iter()
            .filter(|c| args.all || c.config_source == wanted_source)
            .collect();
        shown.sort_by(|a, b| a.name.cmp(&b.name));
        for c in shown {
            writeln!(out, "  {}", config_line(c)).map_err(write_error)?;
        }
    }
    Ok(())
}

fn write_error(e: std::io::Error) -> CliError {
    CliError::io("could not write the output", e)
}

/// One config as kafka-configs.sh prints it.
pub fn config_line(c: &DescribeConfigsResourceResult) -> String {
    let synonyms: Vec<String> = c
        .synonyms
        .iter()
        .map(|s| {
            format!(
                "{}:{}={}",
                source_name(s.source),
                s.name.as_str(),
                s.value.as_deref().unwrap_or("null")
            )
        })
        .collect();
    format!(
        "{}={} sensitive={} synonyms={{{}}}",
        c.name.as_str(),
        c.value.as_deref().unwrap_or("null"),
        c.is_sensitive,
        synonyms.join(", ")
    )
}

/// The Java client's `ConfigEntry.ConfigSource` names.
fn source_name(code: i8) -> &'static str {
    match code {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "DYNAMIC_CLIENT_METRICS_CONFIG",
        8 => "DYNAMIC_GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

fn describe_one(
    client: &mut WireClient,
    kind: EntityType,
    name: &str,
) -> Result<Vec<DescribeConfigsResourceResult>, CliError> {
    let req = DescribeConfigsRequest::default()
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(kind.resource_type())
            .with_resource_name(StrBytes::from_string(name.to_string()))
            .with_configuration_keys(None)])
        .with_include_synonyms(true);
    let resp = client.call(&req, DESCRIBE_CONFIGS_VERSION)?;
    let r = resp
        .results
        .into_iter()
        .next()
        .ok_or_else(|| CliError::Client("the broker described no resource".into()))?;
    if r.error_code != 0 {
        return Err(response_error(
            r.error_code,
            r.error_message.as_deref(),
            subject(kind, name),
        ));
    }
    Ok(r.configs)
}

fn subject(kind: EntityType, name: &str) -> Subject<'_> {
    match kind {
        EntityType::Topics => Subject::Topic(name),
        EntityType::Brokers => Subject::Cluster,
        EntityType::Groups => Subject::Group(name),
    }
}

fn alter(args: AlterArgs, out: &mut impl Write) -> Result<(), CliError> {
    let e = &args.entity;
    if e.entity_name.is_none() && !e.entity_default {
        return Err(CliError::Usage(
            "--alter needs --entity-name or --entity-default".into(),
        ));
    }
    let adds = parse_add_config(args.add_config.as_deref().unwrap_or(""))?;
    let deletes: Vec<String> = args
        .delete_config
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    if adds.is_empty() && deletes.is_empty() {
        return Err(CliError::Usage(
            "--alter needs --add-config or --delete-config".into(),
        ));
    }
    let mut client = connect(&e.connection)?;
    let name = entity_names(e, &mut client)?.remove(0);
    // Like kafka-configs.sh, deleting a key the entity does not have is an error.
    let existing = describe_one(&mut client, e.entity_type, &name)?;
    let missing: Vec<&str> = deletes
        .iter()
        .filter(|k| !existing.iter().any(|c| c.name.as_str() == k.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(CliError::Input(format!(
            "Invalid config(s): {}",
            missing.join(",")
        )));
    }
    let entry = |k: &str, op: i8, v: Option<&str>| {
        AlterableConfig::default()
            .with_name(StrBytes::from_string(k.to_string()))
            .with_config_operation(op)
            .with_value(v.map(|v| StrBytes::from_string(v.to_string())))
    };
    let mut configs: Vec<AlterableConfig> = adds
        .iter()
        .map(|(k, v)| entry(k, OP_SET, Some(v)))
        .collect();
    configs.extend(deletes.iter().map(|k| entry(k, OP_DELETE, None)));
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(e.entity_type.resource_type())
            .with_resource_name(StrBytes::from_string(name.clone()))
            .with_configs(configs),
    ]);
    let resp = client.call(&req, ALTER_CONFIGS_VERSION)?;
    for r in &resp.responses {
        if r.error_code != 0 {
            return Err(response_error(
                r.error_code,
                r.error_message.as_deref(),
                subject(e.entity_type, &name),
            ));
        }
    }
    let done = if name.is_empty() {
        "Completed updating default config for brokers in the cluster.".to_string()
    } else {
        format!(
            "Completed updating config for {} {name}.",
            e.entity_type.singular()
        )
    };
    writeln!(out, "{done}").map_err(write_error)
}

/// Parses `--add-config`: `k1=v1,k2=[a,b],k3=v3`. Commas inside square
/// brackets belong to the value, and the brackets are dropped, as in
/// kafka-configs.sh.
pub fn parse_add_config(s: &str) -> Result<Vec<(String, String)>, CliError> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for ch in s.chars() {
        match ch {
            '[' => {
                depth += 1;
                current.push(ch);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                current.push(ch);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            _ => current.push(ch),
        }
    }
    parts.push(current);
    let mut out = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            CliError::Usage(format!(
                "--add-config entry {part:?} must have the form key=value"
            ))
        })?;
        let v = v.trim();
        let v = v
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(v);
        out.push((k.trim().to_string(), v.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_config_keeps_bracketed_lists_together() {
        let parsed =
            parse_add_config("retention.ms=1000,cleanup.policy=[compact,delete], a = b").unwrap();
        assert_eq!(
            parsed,
            vec![
                ("retention.ms".to_string(), "1000".to_string()),
                ("cleanup.policy".to_string(), "compact,delete".to_string()),
                ("a".to_string(), "b".to_string()),
            ]
        );
        assert!(parse_add_config("novalue").is_err());
        assert!(parse_add_config("").unwrap().is_empty());
    }
}
