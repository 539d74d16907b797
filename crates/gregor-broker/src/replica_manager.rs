//! The partitions this broker hosts, kept in step with the metadata image.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use gregor_log::Log;
use gregor_metadata::MetadataImage;
use tracing::{info, warn};

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::metadata_store::METADATA_LOG_DIR;
use crate::partition::Partition;
use crate::time::now_ms;
use crate::topic_config;

/// (topic, partition)
pub type TopicPartition = (String, i32);

/// Owns every hosted partition. Lives in `Broker`; its map is read by every
/// request and written only when the metadata image changes.
pub struct ReplicaManager {
    node_id: i32,
    log_dir: PathBuf,
    config: Arc<BrokerConfig>,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
}

impl ReplicaManager {
    pub fn new(config: Arc<BrokerConfig>, log_dir: PathBuf) -> ReplicaManager {
        ReplicaManager {
            node_id: config.node_id,
            log_dir,
            config,
            partitions: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        // Borrowing lookups on a tuple key need an owned key; topics are short.
        self.partitions
            .read()
            .expect("partitions lock")
            .get(&(topic.to_string(), partition))
            .cloned()
    }

    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .expect("partitions lock")
            .values()
            .cloned()
            .collect()
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// Opens logs for partitions the image assigns to this node that are not
    /// open yet, and closes and deletes those it no longer lists. At start
    /// (`startup`), partition directories the image does not know are strays
    /// from a deletion cut short by a crash, and are removed.
    pub fn apply_image(
        &self,
        image: &MetadataImage,
        clean_shutdown: bool,
        startup: bool,
    ) -> Result<(), BrokerError> {
        let mut wanted: HashSet<TopicPartition> = HashSet::new();
        for topic in image.topics() {
            for p in topic
                .partitions
                .values()
                .filter(|p| p.replicas.contains(&self.node_id))
            {
                let key = (topic.name.clone(), p.partition);
                wanted.insert(key.clone());
                let config = topic_config::log_config(&self.config, &topic.configs);
                let compacted = topic_config::is_compacted(&self.config, &topic.configs);
                if let Some(existing) = self.get(&topic.name, p.partition) {
                    existing.reconfigure(config, compacted);
                    existing.set_leader_epoch(p.leader_epoch);
                    continue;
                }
                let dir = self.log_dir.join(format!("{}-{}", topic.name, p.partition));
                let log = Log::open(&dir, config, clean_shutdown || !startup, now_ms()).map_err(
                    |source| BrokerError::Log {
                        partition: key.0.clone() + "-" + &p.partition.to_string(),
                        source,
                    },
                )?;
                let partition = Partition::new(
                    topic.name.clone(),
                    p.partition,
                    topic.topic_id,
                    p.leader_epoch,
                    compacted,
                    log,
                );
                self.partitions
                    .write()
                    .expect("partitions lock")
                    .insert(key, Arc::new(partition));
            }
        }
        let gone: Vec<Arc<Partition>> = {
            let mut map = self.partitions.write().expect("partitions lock");
            let keys: Vec<_> = map
                .keys()
                .filter(|k| !wanted.contains(*k))
                .cloned()
                .collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        for p in gone {
            if let Some(log) = p.take_log() {
                info!(partition = %p.name(), "deleting log of removed partition");
                if let Err(e) = log.delete() {
                    warn!(partition = %p.name(), error = %e, "could not delete partition log");
                }
            }
        }
        if startup {
            self.remove_strays(&wanted)?;
        }
        Ok(())
    }

    fn remove_strays(&self, wanted: &HashSet<TopicPartition>) -> Result<(), BrokerError> {
        let entries = std::fs::read_dir(&self.log_dir).map_err(|source| BrokerError::LogDir {
            dir: self.log_dir.display().to_string(),
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name == METADATA_LOG_DIR || !entry.path().is_dir() {
                continue;
            }
            let Some((topic, part)) = name.rsplit_once('-') else {
                continue;
            };
            let Ok(part) = part.parse::<i32>() else {
                continue;
            };
            if !wanted.contains(&(topic.to_string(), part)) {
                warn!(dir = %name, "removing stray partition directory unknown to the metadata log");
                if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                    warn!(dir = %name, error = %e, "could not remove stray directory");
                }
            }
        }
        Ok(())
    }

    /// Flushes logs whose `flush.ms` is due. Called by the broker's timer.
    pub fn flush_due(&self) {
        let now = now_ms();
        for p in self.all() {
            if let Ok(Err(e)) = p.with_log(|log| log.flush_if_due(now)) {
                warn!(partition = %p.name(), error = %e, "periodic flush failed");
            }
        }
    }

    /// Flushes and closes every log; used at clean shutdown.
    pub fn close_all(&self) -> Result<(), BrokerError> {
        let all: Vec<_> = self
            .partitions
            .write()
            .expect("partitions lock")
            .drain()
            .map(|(_, p)| p)
            .collect();
        for p in all {
            if let Some(log) = p.take_log() {
                log.close().map_err(|source| BrokerError::Log {
                    partition: p.name(),
                    source,
                })?;
            }
        }
        Ok(())
    }
}
