//! The partitions this broker hosts, kept in step with the metadata image.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use gregor_log::{Log, LogConfig};
use gregor_metadata::MetadataImage;
use tracing::{info, warn};
use uuid::Uuid;

use crate::config::{BrokerConfig, DynamicLayers};
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
    /// from a deletion cut short by a crash, and are removed, and the logs
    /// are opened on `num.recovery.threads.per.data.dir` threads.
    pub fn apply_image(
        &self,
        image: &MetadataImage,
        clean_shutdown: bool,
        startup: bool,
    ) -> Result<(), BrokerError> {
        // Dynamic broker configs first: they feed the topic defaults below.
        self.config.set_dynamic(DynamicLayers {
            per_broker: image
                .broker_configs(&self.node_id.to_string())
                .cloned()
                .unwrap_or_default(),
            cluster_default: image.broker_configs("").cloned().unwrap_or_default(),
        });
        let mut wanted: HashSet<TopicPartition> = HashSet::new();
        let mut to_open = Vec::new();
        for topic in image.topics() {
            let config = topic_config::log_config(&self.config, &topic.configs);
            let compacted = topic_config::is_compacted(&self.config, &topic.configs);
            for p in topic
                .partitions
                .values()
                .filter(|p| p.replicas.contains(&self.node_id))
            {
                let key = (topic.name.clone(), p.partition);
                wanted.insert(key.clone());
                if let Some(existing) = self.get(&topic.name, p.partition) {
                    existing.reconfigure(config.clone(), compacted);
                    existing.set_leader_epoch(p.leader_epoch);
                    continue;
                }
                to_open.push(ToOpen {
                    key,
                    topic_id: topic.topic_id,
                    leader_epoch: p.leader_epoch,
                    config: config.clone(),
                    compacted,
                });
            }
        }
        let threads = if startup {
            self.config.num_recovery_threads_per_data_dir
        } else {
            1
        };
        let clean = clean_shutdown || !startup;
        let (opened, error) =
            for_each_parallel(&to_open, threads, |w| self.open_partition(w, clean));
        {
            let mut map = self.partitions.write().expect("partitions lock");
            for (w, partition) in opened {
                map.insert(w.key.clone(), Arc::new(partition));
            }
        }
        if let Some(e) = error {
            return Err(e);
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

    fn open_partition(&self, w: &ToOpen, clean_shutdown: bool) -> Result<Partition, BrokerError> {
        let (topic, index) = &w.key;
        let dir = self.log_dir.join(format!("{topic}-{index}"));
        let log =
            Log::open(&dir, w.config.clone(), clean_shutdown, now_ms()).map_err(|source| {
                BrokerError::Log {
                    partition: format!("{topic}-{index}"),
                    source,
                }
            })?;
        Ok(Partition::new(
            topic.clone(),
            *index,
            w.topic_id,
            w.leader_epoch,
            w.compacted,
            log,
        ))
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

    /// Retention for every partition (Kafka's `log.retention.check.interval.ms`
    /// task): segments are taken out of each log under its lock, and their
    /// files unlinked after the lock is released. Returns how many segments
    /// went.
    pub fn enforce_retention(&self) -> usize {
        let now = now_ms();
        let mut total = 0;
        for p in self.all() {
            match p.with_log(|log| log.delete_old_segments(now)) {
                Ok(Ok(deleted)) if !deleted.is_empty() => {
                    total += deleted.count();
                    if let Err(e) = deleted.delete_files() {
                        warn!(partition = %p.name(), error = %e, "could not delete expired segment files");
                    }
                }
                Ok(Err(e)) => {
                    warn!(partition = %p.name(), error = %e, "retention check failed")
                }
                _ => {}
            }
        }
        total
    }

    /// One pass of the log cleaner over every compacted partition: plan
    /// under the partition's lock, rewrite without it, swap under it again.
    /// Returns how many logs were cleaned, so the caller backs off when none.
    pub fn clean_logs(&self, map_memory_bytes: u64) -> usize {
        let mut cleaned = 0;
        for p in self.all() {
            let now = now_ms();
            let Ok(Some(task)) = p.with_log(|log| log.plan_clean(now)) else {
                continue;
            };
            let result = match task.run(map_memory_bytes) {
                Ok(result) => result,
                Err(e) => {
                    warn!(partition = %p.name(), error = %e, "cleaning failed");
                    continue;
                }
            };
            match p.with_log(|log| log.swap_cleaned(result)) {
                Ok(Ok(true)) => cleaned += 1,
                Ok(Ok(false)) => {}
                Ok(Err(e)) => {
                    warn!(partition = %p.name(), error = %e, "swap of cleaned segments failed")
                }
                Err(_) => {}
            }
        }
        cleaned
    }

    /// Flushes and closes every log, on `num.recovery.threads.per.data.dir`
    /// threads as Kafka does; used at clean shutdown. Stops at the first
    /// failure, so the clean-shutdown marker is not written.
    pub fn close_all(&self) -> Result<(), BrokerError> {
        let all: Vec<_> = self
            .partitions
            .write()
            .expect("partitions lock")
            .drain()
            .map(|(_, p)| p)
            .collect();
        let threads = self.config.num_recovery_threads_per_data_dir;
        let (_, error) = for_each_parallel(&all, threads, |p| match p.take_log() {
            Some(log) => log.close().map_err(|source| BrokerError::Log {
                partition: p.name(),
                source,
            }),
            None => Ok(()),
        });
        error.map_or(Ok(()), Err)
    }
}

/// A partition `apply_image` has to open.
struct ToOpen {
    key: TopicPartition,
    topic_id: Uuid,
    leader_epoch: i32,
    config: LogConfig,
    compacted: bool,
}

/// Runs `work` over `items` on up to `threads` scoped threads (inline when
/// one is enough). Opening a log after an unclean shutdown reads and checks
/// every byte after its recovery point, and closing one fsyncs it; side by
/// side, many partitions take a fraction of the time. After the first
/// error no new item is started; returns the successes with their items,
/// and that error.
fn for_each_parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> Result<R, BrokerError> + Sync,
) -> (Vec<(&T, R)>, Option<BrokerError>) {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            match work(item) {
                Ok(r) => done.push((item, r)),
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return (done, Some(e));
                }
            }
        }
        (done, None)
    };
    let threads = threads.clamp(1, items.len().max(1));
    let results = if threads == 1 {
        vec![worker()]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    std::thread::Builder::new()
                        .name("gregor-log-recovery".into())
                        .spawn_scoped(scope, worker)
                        .expect("spawn log recovery thread")
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("log recovery thread panicked"))
                .collect()
        })
    };
    let mut all = Vec::with_capacity(items.len());
    let mut first_error = None;
    for (done, error) in results {
        all.extend(done);
        first_error = first_error.or(error);
    }
    (all, first_error)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bytes::Bytes;
    use gregor_metadata::controller::{self, NewTopic};

    use super::*;
    use crate::broker::Broker;

    const THREADS: &str = "num.recovery.threads.per.data.dir=3";

    fn open(dir: &Path) -> Result<Arc<Broker>, BrokerError> {
        let overrides = [format!("log.dirs={}", dir.display()), THREADS.into()];
        let (config, _) = BrokerConfig::load(None, &[], &overrides).expect("config");
        Broker::open(config)
    }

    fn create(broker: &Broker, name: &str, partitions: i32) {
        let ctx = broker.cluster_context();
        let req = NewTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: 1,
            ..Default::default()
        };
        broker
            .commit_metadata(|image| {
                controller::create_topic(image, &ctx, &req).map(|c| (c.records, ()))
            })
            .expect("commit")
            .expect("created");
    }

    #[test]
    fn every_partition_comes_back_after_a_crash_on_several_recovery_threads() {
        let dir = tempfile::tempdir().unwrap();
        {
            let broker = open(dir.path()).unwrap();
            create(&broker, "t", 40);
            for i in 0..40 {
                let p = broker.replicas.get("t", i).unwrap();
                for _ in 0..=i {
                    p.append_coordinator_records(
                        [(None, Some(Bytes::from_static(b"v")))],
                        now_ms(),
                    )
                    .unwrap();
                }
            }
            // Dropped without close: no clean-shutdown marker, so every log
            // is recovered at the next start.
        }
        let broker = open(dir.path()).unwrap();
        for i in 0..40 {
            let p = broker.replicas.get("t", i).expect("partition open");
            assert_eq!(p.high_watermark(), i64::from(i) + 1, "t-{i}");
        }
    }

    #[test]
    fn a_partition_that_cannot_be_opened_fails_the_start_by_name() {
        let dir = tempfile::tempdir().unwrap();
        {
            let broker = open(dir.path()).unwrap();
            create(&broker, "t", 8);
            broker.close().unwrap();
        }
        let damaged = dir.path().join("t-5");
        std::fs::remove_dir_all(&damaged).unwrap();
        std::fs::write(&damaged, b"not a directory").unwrap();
        let error = open(dir.path()).err().expect("start fails");
        assert!(error.to_string().contains("log for t-5"), "{error}");
    }

    #[test]
    fn parallel_work_covers_each_item_once() {
        let items: Vec<i32> = (0..200).collect();
        let (done, error) = for_each_parallel(&items, 4, |&i| Ok(i * 2));
        assert!(error.is_none());
        let mut seen: Vec<i32> = done.iter().map(|(&i, r)| *r - i).collect();
        seen.sort_unstable();
        assert_eq!(seen, items);
    }

    #[test]
    fn parallel_work_stops_at_the_first_error_and_keeps_the_successes() {
        let items: Vec<i32> = (0..200).collect();
        let threads = 4;
        let calls = AtomicUsize::new(0);
        let (done, error) = for_each_parallel(&items, threads, |&i| {
            calls.fetch_add(1, Ordering::Relaxed);
            if i == 50 {
                Err(BrokerError::Config("item 50".into()))
            } else {
                Ok(i * 2)
            }
        });
        assert!(matches!(error, Some(BrokerError::Config(m)) if m == "item 50"));
        assert!(done.iter().all(|(&i, r)| *r == i * 2));
        let calls = calls.load(Ordering::Relaxed);
        assert_eq!(
            done.len() + 1,
            calls,
            "every call but the failed one is kept"
        );
        // Items are handed out in order; after the failure each other
        // thread finishes what it holds and may take at most one more.
        assert!(calls <= 51 + 2 * (threads - 1), "{calls} calls");
    }
}
