//! Listeners and the broker's lifetime: bind, accept, serve until told to
//! stop, then shut down cleanly.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::connection;
use crate::connection_quotas::{Admission, ConnectionSlot};
use crate::error::BrokerError;
use crate::group_membership::GROUP_TICK_INTERVAL_MS;

/// How long in-flight requests get to finish at shutdown.
const SHUTDOWN_DRAIN_MS: u64 = 5_000;
/// Period of the background timer (flushes due under `log.flush.interval.ms`, idle fetch sessions).
const MAINTENANCE_INTERVAL_MS: u64 = 1_000;

/// A broker that has bound its listeners and is ready to serve.
pub struct Server {
    broker: Arc<Broker>,
    /// Bound sockets with their listener names.
    listeners: Vec<(Arc<str>, TcpListener)>,
}

impl Server {
    /// Opens the logs and binds every listener. Returns once clients can connect.
    pub async fn start(mut config: BrokerConfig) -> Result<Server, BrokerError> {
        let mut listeners = Vec::new();
        for l in &config.listeners {
            let host = l.host.trim_matches(['[', ']']);
            let addr = match host {
                "" => format!("0.0.0.0:{}", l.port),
                h if h.contains(':') => format!("[{h}]:{}", l.port),
                h => format!("{h}:{}", l.port),
            };
            let listener = TcpListener::bind(&addr)
                .await
                .map_err(|source| BrokerError::Bind {
                    addr: addr.clone(),
                    source,
                })?;
            let bound = listener.local_addr()?;
            info!(listener = %l.name, addr = %bound, "listening");
            listeners.push((Arc::<str>::from(l.name.as_str()), listener));
        }
        // A listener on port 0 gets a port from the OS; clients must be told that one.
        for (name, listener) in &listeners {
            let port = listener.local_addr()?.port();
            for a in config
                .advertised_listeners
                .iter_mut()
                .filter(|a| a.port == 0 && *a.name == **name)
            {
                a.port = port;
            }
        }
        let broker = tokio::task::block_in_place(|| Broker::open(config))?;
        Ok(Server { broker, listeners })
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Serves until `shutdown` resolves, then drains connections and closes the logs.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), BrokerError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for (name, listener) in self.listeners {
            tasks.spawn(accept_loop(
                self.broker.clone(),
                name,
                listener,
                stop_rx.clone(),
            ));
        }
        tasks.spawn(maintenance(self.broker.clone(), stop_rx.clone()));
        if self.broker.config.log_cleaner_enable {
            tasks.spawn(log_cleaner(self.broker.clone(), stop_rx.clone()));
        }
        info!(node_id = self.broker.node_id(), cluster_id = %self.broker.cluster_id, "broker started");
        shutdown.await;
        info!("shutting down");
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(Duration::from_millis(SHUTDOWN_DRAIN_MS), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!("connections still busy after {SHUTDOWN_DRAIN_MS} ms; closing logs anyway");
            tasks.abort_all();
        }
        let broker = self.broker;
        tokio::task::block_in_place(|| broker.close())?;
        info!("shutdown complete");
        Ok(())
    }
}

async fn accept_loop(
    broker: Arc<Broker>,
    name: Arc<str>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let quotas = broker.connection_quotas.clone();
                    // max.connections (broker-wide and the listener's own):
                    // hold this one until a slot is free;
                    // max.connection.creation.rate: slow accepting down.
                    let waited = async {
                        quotas.wait_for_slot(&broker, &name).await;
                        let ms = quotas.accept_rate_throttle_ms(&broker, &name);
                        if ms > 0 {
                            tokio::time::sleep(Duration::from_millis(ms as u64)).await;
                        }
                    };
                    tokio::select! {
                        _ = waited => {}
                        _ = stop.changed() => break,
                    }
                    match quotas.admit(&broker, &name, peer.ip()) {
                        Admission::Serve(slot) => {
                            connections.spawn(serve_in_slot(broker.clone(), name.clone(), stream, peer, stop.clone(), slot));
                        }
                        Admission::TooManyFromAddress { max } => {
                            info!(%peer, max, "rejected connection: the address already has the configured maximum of connections");
                            drop(stream);
                        }
                        Admission::Throttled { ms } => {
                            debug!(%peer, ms, "throttling connection (connection_creation_rate)");
                            connections.spawn(async move {
                                tokio::time::sleep(Duration::from_millis(ms as u64)).await;
                                drop(stream);
                            });
                        }
                    }
                }
                // Out of file descriptors and the like: back off, keep serving the rest.
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    while connections.join_next().await.is_some() {}
}

/// Serves a connection, keeping its place in the connection counts.
async fn serve_in_slot(
    broker: Arc<Broker>,
    name: Arc<str>,
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    stop: watch::Receiver<bool>,
    _slot: ConnectionSlot,
) {
    connection::serve(broker, name, stream, peer, stop).await;
}

async fn maintenance(broker: Arc<Broker>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(MAINTENANCE_INTERVAL_MS));
    let mut group_tick = tokio::time::interval(Duration::from_millis(GROUP_TICK_INTERVAL_MS));
    group_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let retention_every = broker.config.log_retention_check_interval_ms.max(1) as u64;
    let mut retention_tick = tokio::time::interval(Duration::from_millis(retention_every));
    retention_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let txn_every = broker
        .config
        .value("transaction.abort.timed.out.transaction.cleanup.interval.ms")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(TXN_TICK_INTERVAL_MS_DEFAULT)
        .max(1);
    let mut txn_tick = tokio::time::interval(Duration::from_millis(txn_every));
    txn_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // Retention (`log.retention.check.interval.ms`), off the request path.
            _ = retention_tick.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.replicas.enforce_retention()).await;
            }
            _ = tick.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.replicas.flush_due()).await;
                broker.quotas.expire_idle(crate::time::now_ms());
            }
            // Transaction timeouts, markers still to write, id expiry.
            _ = txn_tick.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.tick_transactions()).await;
            }
            // Group membership timers: sessions, rebalances, initial delays.
            _ = group_tick.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.tick_groups()).await;
            }
            _ = stop.changed() => break,
        }
    }
}

/// Default of `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
const TXN_TICK_INTERVAL_MS_DEFAULT: u64 = 10_000;
/// Default of `log.cleaner.dedupe.buffer.size`.
const CLEANER_DEDUPE_BUFFER_BYTES_DEFAULT: u64 = 128 << 20;
/// Default of `log.cleaner.backoff.ms`.
const CLEANER_BACKOFF_MS_DEFAULT: u64 = 15_000;

/// The log cleaner (Kafka's `log.cleaner.threads=1`): passes over the
/// compacted partitions on the blocking pool, sleeping
/// `log.cleaner.backoff.ms` after a pass that found nothing to clean.
async fn log_cleaner(broker: Arc<Broker>, mut stop: watch::Receiver<bool>) {
    let setting = |key: &str, default: u64| {
        broker
            .config
            .value(key)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    let backoff_ms = setting("log.cleaner.backoff.ms", CLEANER_BACKOFF_MS_DEFAULT);
    let map_bytes = setting(
        "log.cleaner.dedupe.buffer.size",
        CLEANER_DEDUPE_BUFFER_BYTES_DEFAULT,
    );
    while !*stop.borrow() {
        let b = broker.clone();
        let cleaned = tokio::task::spawn_blocking(move || b.replicas.clean_logs(map_bytes))
            .await
            .unwrap_or(0);
        if cleaned > 0 {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(backoff_ms)) => {}
            _ = stop.changed() => break,
        }
    }
}
