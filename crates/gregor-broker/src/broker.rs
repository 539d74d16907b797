//! The broker's shared state: one `Broker` per process, held as `Arc` by
//! every connection task.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use gregor_coordinator::classic::ClassicConfig;
use gregor_coordinator::consumer::ConsumerConfig;
use gregor_coordinator::{
    CoordinatorConfig, CoordinatorRecord, CoordinatorResult, GroupCoordinator,
    GroupCoordinatorShard, Replayed, OFFSETS_TOPIC,
};
use gregor_metadata::controller::{self, ClusterContext};
use gregor_metadata::{MetadataImage, MetadataRecord};
use tracing::{info, warn};

use crate::authorizer::Authorizer;
use crate::config::BrokerConfig;
use crate::coordinator_log::{self, Entry};
use crate::error::BrokerError;
use crate::fetch_session::FetchSessionCache;
use crate::group_membership::GroupWaiters;
use crate::log_dir;
use crate::metadata_store::MetadataStore;
use crate::partition::{Partition, PartitionError};
use crate::quota::QuotaManager;
use crate::replica_manager::ReplicaManager;
use crate::time::now_ms;
use crate::txn_coordinator::TxnCoordinator;

/// Producer ids reserved from the metadata log per allocation, so that
/// InitProducerId does not write a metadata record per producer.
const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

pub struct Broker {
    pub config: Arc<BrokerConfig>,
    pub cluster_id: String,
    pub metadata: MetadataStore,
    pub replicas: ReplicaManager,
    pub fetch_sessions: FetchSessionCache,
    /// Committed offsets and groups: one shard per `__consumer_offsets`
    /// partition, loaded from those partitions at start.
    pub groups: GroupCoordinator,
    /// Transactions: one shard per `__transaction_state` partition,
    /// loaded from those partitions at start.
    pub txns: TxnCoordinator,
    /// JoinGroup/SyncGroup requests parked in the group coordinator.
    pub group_waiters: GroupWaiters,
    /// `authorizer.class.name` and its settings; ACLs live in the image.
    pub authorizer: Authorizer,
    /// Client quota sensors (produce/fetch byte rates, request time).
    pub quotas: QuotaManager,
    /// Controller mutation token buckets (`controller_mutation_rate`).
    pub mutation_quotas: crate::quota::MutationBuckets,
    /// Connection counts and connection-rate sensors.
    pub connection_quotas: Arc<crate::connection_quotas::ConnectionQuotas>,
    /// Serializes applying committed metadata to the hosted partitions.
    applying: Mutex<()>,
    /// The current block of producer ids: [next, end).
    producer_ids: Mutex<(i64, i64)>,
    log_dir: PathBuf,
}

impl Broker {
    /// Opens the log directory, replays metadata and opens partition logs.
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>, BrokerError> {
        let config = Arc::new(config);
        let authorizer = Authorizer::from_config(&config)?;
        let log_dir = config.log_dirs.first().cloned().ok_or_else(|| {
            BrokerError::Config("log.dirs must name at least one directory".into())
        })?;
        if config.log_dirs.len() > 1 {
            warn!(used = %log_dir.display(), "several log.dirs given; this version stores every partition in the first");
        }
        let cluster_id = log_dir::prepare(&log_dir, config.node_id)?;
        let clean = log_dir::take_clean_shutdown_marker(&log_dir)?;
        info!(dir = %log_dir.display(), clean_shutdown = clean, %cluster_id, "opening log directory");
        let metadata = MetadataStore::open(&log_dir, clean)?;
        let replicas = ReplicaManager::new(config.clone(), log_dir.clone());
        replicas.apply_image(&metadata.image(), clean, true)?;
        let groups = load_groups(&config, &metadata.image(), &replicas);
        let txns = TxnCoordinator::load(&config, &metadata.image(), &replicas);
        let broker = Arc::new(Broker {
            fetch_sessions: FetchSessionCache::new(crate::fetch_session::FETCH_SESSION_SLOTS_MAX),
            groups,
            group_waiters: GroupWaiters::default(),
            authorizer,
            quotas: QuotaManager::new(
                usize::try_from(config.quota_window_num).unwrap_or(1),
                i64::from(config.quota_window_size_seconds) * 1000,
            ),
            mutation_quotas: crate::quota::MutationBuckets::new(
                usize::try_from(config.quota_window_num).unwrap_or(1),
                i64::from(config.quota_window_size_seconds) * 1000,
            ),
            connection_quotas: Arc::new(crate::connection_quotas::ConnectionQuotas::new(
                usize::try_from(config.quota_window_num).unwrap_or(1),
                i64::from(config.quota_window_size_seconds) * 1000,
            )),
            config,
            cluster_id,
            metadata,
            replicas,
            producer_ids: Mutex::new((0, 0)),
            applying: Mutex::new(()),
            log_dir,
            txns,
        });
        // Transactions the last run left prepared are completed before any
        // client is served, so none is left hanging.
        broker.tick_transactions();
        Ok(broker)
    }

    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    pub fn cluster_context(&self) -> ClusterContext {
        ClusterContext {
            broker_ids: vec![self.config.node_id],
            default_partitions: self.config.num_partitions,
            default_replication_factor: self.config.default_replication_factor,
        }
    }

    /// The bounds group-level config overrides must respect.
    pub fn group_config_limits(&self) -> gregor_metadata::controller::GroupConfigLimits {
        let c = &self.config;
        gregor_metadata::controller::GroupConfigLimits {
            consumer_heartbeat_interval_ms: (
                c.group_consumer_min_heartbeat_interval_ms,
                c.group_consumer_max_heartbeat_interval_ms,
            ),
            consumer_session_timeout_ms: (
                c.group_consumer_min_session_timeout_ms,
                c.group_consumer_max_session_timeout_ms,
            ),
        }
    }

    /// Runs a controller decision, makes its records durable, applies them
    /// and brings the hosted partitions in line with the new image.
    pub fn commit_metadata<T, E>(
        &self,
        decide: impl FnOnce(&MetadataImage) -> Result<(Vec<MetadataRecord>, T), E>,
    ) -> Result<Result<T, E>, BrokerError> {
        match self.metadata.commit(decide)? {
            Ok((_, out)) => {
                // Commits run concurrently (topic creation, producer-id
                // blocks): applying images one at a time, always the newest,
                // keeps two commits from opening the same log twice, and an
                // older image from closing partitions a newer one created.
                let _applying = self.applying.lock().expect("image apply lock");
                self.replicas
                    .apply_image(&self.metadata.image(), true, false)?;
                Ok(Ok(out))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// Hands out one producer id, reserving a new block when the current
    /// one is used up.
    pub fn next_producer_id(&self) -> Result<i64, BrokerError> {
        let mut ids = self.producer_ids.lock().expect("producer id lock");
        if ids.0 >= ids.1 {
            let first = self.commit_metadata(|image| {
                let (records, first) =
                    controller::allocate_producer_ids(image, PRODUCER_ID_BLOCK_SIZE);
                Ok::<_, std::convert::Infallible>((records, first))
            })?;
            let first = first.unwrap_or_else(|never| match never {});
            *ids = (first, first + PRODUCER_ID_BLOCK_SIZE);
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }

    /// Clean shutdown: close every partition log and the metadata log, and
    /// only then leave the marker that lets the next start skip recovery.
    pub fn close(&self) -> Result<(), BrokerError> {
        self.replicas.close_all()?;
        self.metadata.close()?;
        log_dir::write_clean_shutdown_marker(&self.log_dir)?;
        info!("logs closed cleanly");
        Ok(())
    }
}

/// Why a group coordinator operation did not complete.
#[derive(Debug)]
pub enum GroupOpError {
    /// This broker does not host the group's `__consumer_offsets` partition.
    NotCoordinator,
    /// Appending the event's records failed; nothing was applied.
    Write(PartitionError),
}

impl Broker {
    /// Runs one group coordinator event: under the lock of `group_id`'s
    /// shard, `event` builds records and a response; the records are
    /// appended to the shard's `__consumer_offsets` partition and applied
    /// to the shard only once written, so the response can go out.
    /// Synchronous file I/O: call from a blocking context.
    pub fn group_write<R>(
        &self,
        group_id: &str,
        event: impl FnOnce(&GroupCoordinatorShard) -> CoordinatorResult<R>,
    ) -> Result<R, GroupOpError> {
        let (partition, mut shard) = self.group_shard(group_id)?;
        let CoordinatorResult { records, response } = event(&shard);
        if !records.is_empty() {
            write_group_records(&partition, &records, now_ms()).map_err(GroupOpError::Write)?;
            shard.apply(&records);
        }
        Ok(response)
    }

    /// Runs a read of `group_id`'s shard under its lock.
    pub fn group_read<R>(
        &self,
        group_id: &str,
        read: impl FnOnce(&GroupCoordinatorShard) -> R,
    ) -> Result<R, GroupOpError> {
        let (_, shard) = self.group_shard(group_id)?;
        Ok(read(&shard))
    }

    /// The partition and locked shard of `group_id`, after writing any
    /// offsets due to expire there: retention runs when a shard is used,
    /// at most once per `offsets.retention.check.interval.ms`.
    pub(crate) fn group_shard(
        &self,
        group_id: &str,
    ) -> Result<(Arc<Partition>, MutexGuard<'_, GroupCoordinatorShard>), GroupOpError> {
        let index = self.groups.partition_for(group_id);
        let partition = self
            .replicas
            .get(OFFSETS_TOPIC, index)
            .ok_or(GroupOpError::NotCoordinator)?;
        let mut shard = self.groups.shard(index);
        let now = now_ms();
        let expired = shard.take_due_expiry(now);
        if !expired.is_empty() {
            match write_group_records(&partition, &expired, now) {
                Ok(()) => {
                    info!(partition = %partition.name(), records = expired.len(), "expired committed offsets");
                    shard.apply(&expired);
                }
                Err(e) => {
                    warn!(partition = %partition.name(), error = ?e, "could not write offset expiry")
                }
            }
        }
        Ok((partition, shard))
    }
}

pub(crate) fn write_group_records(
    partition: &Arc<Partition>,
    records: &[CoordinatorRecord],
    now: i64,
) -> Result<(), PartitionError> {
    let pairs = records
        .iter()
        .map(|r| (Some(r.key.clone()), r.value.clone()));
    partition.append_coordinator_records(pairs, now).map(|_| ())
}

fn coordinator_config(config: &BrokerConfig) -> CoordinatorConfig {
    CoordinatorConfig {
        offsets_retention_ms: config.offsets_retention_ms,
        offsets_retention_check_interval_ms: config.offsets_retention_check_interval_ms,
        offset_metadata_max_bytes: usize::try_from(config.offset_metadata_max_bytes).unwrap_or(0),
        classic: ClassicConfig {
            initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
            min_session_timeout_ms: config.group_min_session_timeout_ms,
            max_session_timeout_ms: config.group_max_session_timeout_ms,
            max_size: config.group_max_size,
        },
        consumer: ConsumerConfig {
            session_timeout_ms: config.group_consumer_session_timeout_ms,
            heartbeat_interval_ms: config.group_consumer_heartbeat_interval_ms,
            ..ConsumerConfig::default()
        },
    }
}

/// Builds the group coordinator and replays every hosted
/// `__consumer_offsets` partition into it. Groups map onto the topic's
/// partition count if it exists, else onto `offsets.topic.num.partitions`
/// (what the topic will be created with).
fn load_groups(
    config: &BrokerConfig,
    image: &MetadataImage,
    replicas: &ReplicaManager,
) -> GroupCoordinator {
    let partitions = image
        .topic(OFFSETS_TOPIC)
        .map(|t| t.partitions.len() as i32)
        .filter(|n| *n > 0)
        .unwrap_or(config.offsets_topic_num_partitions);
    let groups = GroupCoordinator::new(coordinator_config(config), partitions);
    // Consumer-group records store partitions by topic id.
    let topics = crate::handlers::consumer_group_heartbeat::image_topics(image);
    for index in 0..partitions {
        if let Some(partition) = replicas.get(OFFSETS_TOPIC, index) {
            let mut shard = groups.shard(index);
            shard.set_topics(topics.clone());
            load_shard(&partition, &mut shard);
        }
    }
    groups
}

/// Replays one `__consumer_offsets` partition, start to high watermark:
/// offsets committed in transactions stay pending until their marker.
/// Unreadable records are logged and skipped: one damaged commit must not
/// keep the broker from starting.
fn load_shard(partition: &Partition, shard: &mut GroupCoordinatorShard) {
    let loaded = coordinator_log::replay(partition, |entry| match entry {
        Entry::Record {
            producer_id,
            key,
            value,
            offset,
        } => {
            let replayed = match producer_id {
                None => shard.replay(key, value),
                Some(pid) => shard.replay_transactional(pid, key, value),
            };
            match replayed {
                Ok(Replayed::Applied) => true,
                Ok(Replayed::Ignored(_)) => false,
                Err(e) => {
                    warn!(partition = %partition.name(), offset, error = %e, "skipping unreadable group record");
                    false
                }
            }
        }
        Entry::Marker {
            producer_id,
            commit,
        } => {
            shard.complete_transaction(producer_id, commit);
            true
        }
    });
    if loaded.records + loaded.markers + loaded.skipped > 0 {
        info!(partition = %partition.name(), groups = shard.group_ids().count(), applied = loaded.records, markers = loaded.markers, skipped = loaded.skipped, "loaded group state");
    }
}
