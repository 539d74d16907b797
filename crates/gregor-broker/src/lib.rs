//! The Gregor broker: tokio listeners, the per-connection request pipeline,
//! one handler per Kafka API, the replica manager that owns partition logs,
//! and the durable metadata store.

pub mod config;
