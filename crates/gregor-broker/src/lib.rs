//! The Gregor broker: tokio listeners, the per-connection request pipeline,
//! one handler per Kafka API, the replica manager that owns partition logs,
//! and the durable metadata store.
//!
//! What it must not do: encode wire formats by hand (gregor-protocol does),
//! touch segment files (gregor-log does), or decide metadata changes
//! (gregor-metadata's controller does).

pub mod authorizer;
pub mod broker;
pub mod config;
pub mod connection;
pub mod connection_quotas;
pub mod coordinator_log;
pub mod error;
pub mod fetch_session;
pub mod group_membership;
pub mod handlers;
pub mod log_dir;
pub mod metadata_store;
pub mod open_files;
pub mod partition;
pub mod quota;
pub mod replica_manager;
pub mod server;
pub mod time;
pub mod topic_config;
pub mod txn_coordinator;

pub use broker::Broker;
pub use config::BrokerConfig;
pub use error::BrokerError;
pub use server::Server;
