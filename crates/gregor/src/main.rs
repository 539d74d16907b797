//! `gregor`: the broker and the operator CLI in one binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use gregor_broker::{BrokerConfig, Server};
use tracing::{error, info, warn};

mod cli;

#[derive(Parser)]
#[command(
    name = "gregor",
    version,
    about = "A Kafka-compatible event streaming platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start; boxing buys nothing
enum Command {
    /// Run a broker (a single combined broker + controller node).
    Broker(BrokerArgs),
    #[command(flatten)]
    Client(cli::ClientCommand),
}

#[derive(Args)]
struct BrokerArgs {
    /// A server.properties file, as for kafka-server-start.sh.
    #[arg(value_name = "FILE")]
    properties: Option<PathBuf>,
    /// The same, as an option.
    #[arg(
        long = "config",
        short = 'c',
        value_name = "FILE",
        conflicts_with = "properties"
    )]
    config: Option<PathBuf>,
    /// Set one config key, over the file and environment (repeatable).
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Broker(args) => run_broker(args),
        Command::Client(cmd) => cli::run(cmd),
    }
}

fn run_broker(args: BrokerArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let env: Vec<(String, String)> = std::env::vars().collect();
    let file = args.config.or(args.properties);
    let (config, warnings) = match BrokerConfig::load(file.as_deref(), &env, &args.overrides) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("gregor: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    for w in warnings {
        warn!("{w}");
    }
    match gregor_broker::open_files::raise_to_hard_limit() {
        Ok(limit) => info!(limit = limit.soft, "open files limit"),
        Err(e) => warn!(error = %e, "could not raise the open files limit to the hard limit"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gregor: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let server = Server::start(config).await?;
        server.run(shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            eprintln!("gregor: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the broker can only be killed; keep serving.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
