//! The broker's shared state: one `Broker` per process, held as `Arc` by
//! every connection task.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gregor_metadata::controller::{self, ClusterContext};
use gregor_metadata::{MetadataImage, MetadataRecord};
use tracing::{info, warn};

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::fetch_session::FetchSessionCache;
use crate::log_dir;
use crate::metadata_store::MetadataStore;
use crate::replica_manager::ReplicaManager;

/// Producer ids reserved from the metadata log per allocation, so that
/// InitProducerId does not write a metadata record per producer.
const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

pub struct Broker {
    pub config: Arc<BrokerConfig>,
    pub cluster_id: String,
    pub metadata: MetadataStore,
    pub replicas: ReplicaManager,
    pub fetch_sessions: FetchSessionCache,
    /// The current block of producer ids: [next, end).
    producer_ids: Mutex<(i64, i64)>,
    log_dir: PathBuf,
}

impl Broker {
    /// Opens the log directory, replays metadata and opens partition logs.
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>, BrokerError> {
        let config = Arc::new(config);
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
        Ok(Arc::new(Broker {
            fetch_sessions: FetchSessionCache::new(crate::fetch_session::FETCH_SESSION_SLOTS_MAX),
            config,
            cluster_id,
            metadata,
            replicas,
            producer_ids: Mutex::new((0, 0)),
            log_dir,
        }))
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

    /// Runs a controller decision, makes its records durable, applies them
    /// and brings the hosted partitions in line with the new image.
    pub fn commit_metadata<T, E>(
        &self,
        decide: impl FnOnce(&MetadataImage) -> Result<(Vec<MetadataRecord>, T), E>,
    ) -> Result<Result<T, E>, BrokerError> {
        match self.metadata.commit(decide)? {
            Ok((image, out)) => {
                self.replicas.apply_image(&image, true, false)?;
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

    /// Clean shutdown: close every log, then leave the marker that lets the
    /// next start skip recovery.
    pub fn close(&self) -> Result<(), BrokerError> {
        self.replicas.close_all()?;
        log_dir::write_clean_shutdown_marker(&self.log_dir)?;
        info!("logs closed cleanly");
        Ok(())
    }

    /// Closes the metadata log; the last step of shutdown.
    pub fn close_metadata(self: Arc<Self>) -> Result<(), BrokerError> {
        match Arc::try_unwrap(self) {
            Ok(broker) => broker.metadata.close(),
            // A connection task still holds the broker; its metadata log was
            // fsynced at every commit, so nothing is lost by not closing it.
            Err(_) => Ok(()),
        }
    }
}
