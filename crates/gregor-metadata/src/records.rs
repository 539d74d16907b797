//! Metadata records: the only way cluster metadata changes.
//!
//! Each record is stored as the value of one record in a v2 batch of the
//! metadata log (`__cluster_metadata-0`), JSON-encoded with a `type` tag so
//! that a record written by an older Gregor stays readable. A test pins the
//! encoding: changing it is a deliberate on-disk format change.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::quotas::{EntityPart, QuotaValue};
use crate::MetadataError;

/// Which kind of resource a config record applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigResource {
    Topic,
    Broker,
    /// A consumer or share group's overrides (KIP-848 group configs).
    Group,
}

/// One change to the cluster metadata image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MetadataRecord {
    /// A topic came into existence. Its partitions follow as `Partition` records.
    Topic { name: String, topic_id: Uuid },
    /// A partition's replica set, leader and epochs (new or changed).
    Partition {
        topic_id: Uuid,
        partition: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
    },
    /// A topic and all its partitions are gone.
    RemoveTopic { topic_id: Uuid },
    /// A config key set (`value: Some`) or removed (`value: None`) on a resource.
    /// `resource_name` is the topic name, the broker id ("" = cluster
    /// default) or the group id.
    Config {
        resource: ConfigResource,
        resource_name: String,
        name: String,
        value: Option<String>,
    },
    /// The next producer id the cluster may hand out: ids below it are taken.
    ProducerIds { next_producer_id: i64 },
    /// A client quota set or removed (`remove`) on an entity (Kafka's
    /// ClientQuotaRecord): user, client-id and/or ip, a `None` name being
    /// the default entity of that type.
    ClientQuota {
        entity: Vec<EntityPart>,
        key: String,
        value: QuotaValue,
        remove: bool,
    },
}

impl MetadataRecord {
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec(self).expect("metadata record serializes")
    }

    pub fn decode(bytes: &[u8]) -> Result<MetadataRecord, MetadataError> {
        serde_json::from_slice(bytes).map_err(|e| MetadataError::BadRecord(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_pinned() {
        let id = Uuid::from_u128(0x0102030405060708090a0b0c0d0e0f10);
        let r = MetadataRecord::Topic {
            name: "t".into(),
            topic_id: id,
        };
        assert_eq!(
            String::from_utf8(r.encode()).unwrap(),
            r#"{"type":"topic","name":"t","topic_id":"01020304-0506-0708-090a-0b0c0d0e0f10"}"#
        );
        let c = MetadataRecord::Config {
            resource: ConfigResource::Topic,
            resource_name: "t".into(),
            name: "retention.ms".into(),
            value: None,
        };
        assert_eq!(
            String::from_utf8(c.encode()).unwrap(),
            r#"{"type":"config","resource":"topic","resource_name":"t","name":"retention.ms","value":null}"#
        );
        assert_eq!(MetadataRecord::decode(&c.encode()).unwrap(), c);
        let q = MetadataRecord::ClientQuota {
            entity: vec![EntityPart {
                entity_type: "user".into(),
                entity_name: None,
            }],
            key: "producer_byte_rate".into(),
            value: QuotaValue(1024.0),
            remove: false,
        };
        assert_eq!(
            String::from_utf8(q.encode()).unwrap(),
            r#"{"type":"client_quota","entity":[{"entity_type":"user","entity_name":null}],"key":"producer_byte_rate","value":1024.0,"remove":false}"#
        );
        assert_eq!(MetadataRecord::decode(&q.encode()).unwrap(), q);
    }
}
