//! The metadata image: what the replayed metadata records say the cluster is.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use crate::acl::AclBinding;
use crate::quotas::ClientQuotas;
use crate::records::{ConfigResource, MetadataRecord};
use crate::scram::{ScramCredential, ScramMechanism};

/// A partition as the metadata log describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionImage {
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
}

/// A topic, its partitions (dense from 0) and its config overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub topic_id: Uuid,
    pub partitions: BTreeMap<i32, PartitionImage>,
    pub configs: BTreeMap<String, String>,
}

impl TopicImage {
    /// Kafka's internal topics start with a double underscore by convention;
    /// these two are the ones Kafka itself marks internal.
    pub fn is_internal(&self) -> bool {
        self.name == "__consumer_offsets" || self.name == "__transaction_state"
    }
}

/// The whole image. Owned by the broker's metadata store, replaced
/// copy-on-write so readers never wait for a writer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataImage {
    topics: BTreeMap<String, TopicImage>,
    names_by_id: HashMap<Uuid, String>,
    broker_configs: BTreeMap<String, BTreeMap<String, String>>,
    group_configs: BTreeMap<String, BTreeMap<String, String>>,
    /// Producer ids below this one have been handed out.
    pub next_producer_id: i64,
    acls: BTreeMap<Uuid, AclBinding>,
    scram: BTreeMap<(String, ScramMechanism), ScramCredential>,
    /// Client quotas by entity.
    pub client_quotas: ClientQuotas,
}

impl MetadataImage {
    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(name)
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<&TopicImage> {
        self.names_by_id.get(id).and_then(|n| self.topics.get(n))
    }

    pub fn topics(&self) -> impl Iterator<Item = &TopicImage> {
        self.topics.values()
    }

    /// Dynamic config overrides stored for a broker ("" = cluster default).
    pub fn broker_configs(&self, broker: &str) -> Option<&BTreeMap<String, String>> {
        self.broker_configs.get(broker)
    }

    /// Config overrides stored for a group.
    pub fn group_configs(&self, group: &str) -> Option<&BTreeMap<String, String>> {
        self.group_configs.get(group)
    }

    /// The groups that have at least one config override, by name.
    pub fn groups_with_configs(&self) -> impl Iterator<Item = &str> {
        self.group_configs
            .iter()
            .filter(|(_, configs)| !configs.is_empty())
            .map(|(group, _)| group.as_str())
    }

    /// Every stored ACL with its id.
    pub fn acls(&self) -> impl Iterator<Item = (&Uuid, &AclBinding)> {
        self.acls.iter()
    }

    /// Every stored SCRAM credential by (user, mechanism), ordered by user.
    pub fn scram_credentials(
        &self,
    ) -> impl Iterator<Item = (&(String, ScramMechanism), &ScramCredential)> {
        self.scram.iter()
    }

    pub fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Option<&ScramCredential> {
        self.scram.get(&(user.to_string(), mechanism))
    }

    /// Applies one record. Records come from the metadata log, which only
    /// the controller writes after validation, so a record that does not fit
    /// the image (a partition of an unknown topic) is a broken invariant.
    pub fn apply(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::Topic { name, topic_id } => {
                self.names_by_id.insert(*topic_id, name.clone());
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        name: name.clone(),
                        topic_id: *topic_id,
                        partitions: BTreeMap::new(),
                        configs: BTreeMap::new(),
                    },
                );
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
            } => {
                let name = self.names_by_id.get(topic_id);
                let topic = name.and_then(|n| self.topics.get_mut(n));
                let topic = topic
                    .unwrap_or_else(|| panic!("partition record for unknown topic id {topic_id}"));
                topic.partitions.insert(
                    *partition,
                    PartitionImage {
                        partition: *partition,
                        replicas: replicas.clone(),
                        isr: isr.clone(),
                        leader: *leader,
                        leader_epoch: *leader_epoch,
                        partition_epoch: *partition_epoch,
                    },
                );
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                if let Some(name) = self.names_by_id.remove(topic_id) {
                    self.topics.remove(&name);
                }
            }
            MetadataRecord::Config {
                resource,
                resource_name,
                name,
                value,
            } => {
                let map = match resource {
                    ConfigResource::Topic => match self.topics.get_mut(resource_name) {
                        Some(t) => &mut t.configs,
                        // A config of a topic deleted in the same replay: nothing to keep.
                        None => return,
                    },
                    ConfigResource::Broker => self
                        .broker_configs
                        .entry(resource_name.clone())
                        .or_default(),
                    ConfigResource::Group => {
                        self.group_configs.entry(resource_name.clone()).or_default()
                    }
                };
                match value {
                    Some(v) => map.insert(name.clone(), v.clone()),
                    None => map.remove(name),
                };
            }
            MetadataRecord::ProducerIds { next_producer_id } => {
                assert!(
                    *next_producer_id >= self.next_producer_id,
                    "producer ids must not go backwards"
                );
                self.next_producer_id = *next_producer_id;
            }
            MetadataRecord::Acl { id, acl } => {
                self.acls.insert(*id, acl.clone());
            }
            MetadataRecord::RemoveAcl { id } => {
                self.acls.remove(id);
            }
            MetadataRecord::ScramCredential {
                name,
                mechanism,
                credential,
            } => {
                self.scram
                    .insert((name.clone(), *mechanism), credential.clone());
            }
            MetadataRecord::RemoveScramCredential { name, mechanism } => {
                self.scram.remove(&(name.clone(), *mechanism));
            }
            MetadataRecord::ClientQuota {
                entity,
                key,
                value,
                remove,
            } => self.client_quotas.apply(entity, key, *value, *remove),
        }
    }
}
