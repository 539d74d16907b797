//! The operator CLI: `gregor topics | produce | consume | offsets | groups | perf |
//! configs | delete-records | transactions`, for
//! people who know Kafka's shell tools (kafka-topics.sh,
//! kafka-console-producer.sh, kafka-console-consumer.sh,
//! kafka-get-offsets.sh). Same flags where they make sense, same output
//! formats, same defaults; errors name Kafka's error code and say what it
//! means.
//!
//! The CLI is a Kafka client like any other: it talks to brokers only
//! through librdkafka (the `rdkafka` crate), never through broker
//! internals, so it works against any Kafka-compatible cluster.
//!
//! Layout: one file per command (`topics/`, `produce.rs`, `consume.rs`,
//! `offsets.rs`, `quotas.rs`, `dump_log.rs`); pure input/output formats
//! beside them (`line_reader.rs`, `formatter.rs`); shared client set-up in
//! `config.rs` and `client.rs`; the error name/sentence table in
//! `errors.rs`; the admin requests the rdkafka crate does not wrap in
//! `native/`; a bare Kafka-protocol client in `wire.rs` for the quota and
//! transaction-admin APIs librdkafka lacks altogether (`quotas.rs`,
//! `transactions.rs`). `dump-log` reads segment files and needs
//! no broker.

mod client;
mod config;
mod configs;
mod consume;
mod delete_records;
mod dump_log;
mod errors;
mod formatter;
mod groups;
mod line_reader;
mod native;
mod offsets;
mod perf;
mod produce;
mod quotas;
mod topics;
mod transactions;
mod wire;

#[cfg(test)]
mod tests;

use std::process::ExitCode;

pub use configs::ConfigsCommand;
pub use consume::ConsumeArgs;
pub use delete_records::DeleteRecordsArgs;
pub use dump_log::DumpLogArgs;
pub use errors::CliError;
pub use groups::GroupsCommand;
pub use offsets::OffsetsArgs;
pub use perf::PerfCommand;
pub use produce::ProduceArgs;
pub use quotas::QuotasCommand;
pub use topics::TopicsCommand;
pub use transactions::TransactionsCommand;

// The client commands, flattened into the binary's top-level subcommands.
// (A `//` comment: a doc comment here would become the parent command's
// `about` text through the flatten.)
#[derive(clap::Subcommand, Debug)]
pub enum ClientCommand {
    /// Create, list, describe, alter and delete topics (like kafka-topics.sh).
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Send stdin to a topic, one record per line (like kafka-console-producer.sh).
    Produce(ProduceArgs),
    /// Print a topic's records (like kafka-console-consumer.sh).
    Consume(ConsumeArgs),
    /// Print partition offsets at a point in time (like kafka-get-offsets.sh).
    Offsets(OffsetsArgs),
    /// List, describe, reset and delete consumer groups (like kafka-consumer-groups.sh).
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// Measure produce or consume throughput and latency (like
    /// kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh).
    #[command(subcommand)]
    Perf(PerfCommand),
    /// Describe and alter client quotas (like kafka-configs.sh --entity-type users|clients|ips).
    #[command(subcommand)]
    Quotas(QuotasCommand),
    /// Print a segment's batches and records, or an index (like kafka-dump-log.sh).
    DumpLog(DumpLogArgs),
    /// Describe and alter topic and broker configs (like kafka-configs.sh).
    #[command(subcommand)]
    Configs(ConfigsCommand),
    /// Delete records below an offset (like kafka-delete-records.sh).
    DeleteRecords(DeleteRecordsArgs),
    /// List, describe and abort transactions (like kafka-transactions.sh).
    #[command(subcommand)]
    Transactions(TransactionsCommand),
}

/// Exit status after Ctrl-C, as a shell reports for SIGINT.
const EXIT_INTERRUPTED: u8 = 130;

/// Runs one client command to completion. Errors are printed to stderr as
/// `Error: ...` and give exit status 1.
pub fn run(cmd: ClientCommand) -> ExitCode {
    match execute(cmd) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cmd: ClientCommand) -> Result<ExitCode, CliError> {
    // librdkafka runs its own threads; the runtime only drives the admin and
    // consumer futures and the Ctrl-C signal, so one thread is enough.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("could not start the async runtime", e))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        ClientCommand::Topics(cmd) => runtime.block_on(topics::run(cmd, &mut out))?,
        ClientCommand::Produce(args) => produce::run(args, std::io::stdin().lock())?,
        ClientCommand::Consume(args) => {
            if runtime.block_on(consume::run(args, &mut out))? == consume::Ended::Interrupted {
                return Ok(ExitCode::from(EXIT_INTERRUPTED));
            }
        }
        ClientCommand::Offsets(args) => offsets::run(args, &mut out)?,
        ClientCommand::Groups(cmd) => runtime.block_on(groups::run(cmd, &mut out))?,
        ClientCommand::Perf(cmd) => perf::run(cmd, &mut out)?,
        ClientCommand::Quotas(cmd) => quotas::run(cmd, &mut out)?,
        ClientCommand::DumpLog(args) => dump_log::run(args, &mut out)?,
        ClientCommand::Configs(cmd) => configs::run(cmd, &mut out)?,
        ClientCommand::DeleteRecords(args) => {
            runtime.block_on(delete_records::run(args, &mut out))?
        }
        ClientCommand::Transactions(cmd) => transactions::run(cmd, &mut out)?,
    }
    Ok(ExitCode::SUCCESS)
}
