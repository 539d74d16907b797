//! Metadata records: the only way cluster metadata changes.
//!
//! Each record is stored as the value of one record in a v2 batch of the
//! metadata log (`__cluster_metadata-0`), JSON-encoded with a `type` tag so
//! that a record written by an older Gregor stays readable. A test pins the
//! encoding: changing it is a deliberate on-disk format change.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::acl::AclBinding;
use crate::quotas::{EntityPart, QuotaValue};
use crate::scram::{ScramCredential, ScramMechanism};
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
    /// An ACL was created (Kafka's AccessControlEntryRecord); `id` names it
    /// for its removal.
    Acl { id: Uuid, acl: AclBinding },
    /// The ACL `id` was deleted (RemoveAccessControlEntryRecord).
    RemoveAcl { id: Uuid },
    /// A user's SCRAM credential for one mechanism, new or replaced
    /// (UserScramCredentialRecord).
    ScramCredential {
        name: String,
        mechanism: ScramMechanism,
        credential: ScramCredential,
    },
    /// A user's SCRAM credential for one mechanism was deleted
    /// (RemoveUserScramCredentialRecord).
    RemoveScramCredential {
        name: String,
        mechanism: ScramMechanism,
    },
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

    #[test]
    fn acl_and_scram_encodings_are_pinned() {
        use crate::acl::{AclOperation, AclPermission, PatternType, ResourceType};
        let a = MetadataRecord::Acl {
            id: Uuid::from_u128(1),
            acl: AclBinding {
                resource_type: ResourceType::Topic,
                resource_name: "t".into(),
                pattern_type: PatternType::Prefixed,
                principal: "User:a".into(),
                host: "*".into(),
                operation: AclOperation::DescribeConfigs,
                permission: AclPermission::Deny,
            },
        };
        assert_eq!(
            String::from_utf8(a.encode()).unwrap(),
            r#"{"type":"acl","id":"00000000-0000-0000-0000-000000000001","acl":{"resource_type":"topic","resource_name":"t","pattern_type":"prefixed","principal":"User:a","host":"*","operation":"describe_configs","permission":"deny"}}"#
        );
        assert_eq!(MetadataRecord::decode(&a.encode()).unwrap(), a);
        let s = MetadataRecord::ScramCredential {
            name: "u".into(),
            mechanism: ScramMechanism::Sha256,
            credential: ScramCredential {
                salt: vec![1],
                stored_key: vec![2],
                server_key: vec![0xff],
                iterations: 4096,
            },
        };
        assert_eq!(
            String::from_utf8(s.encode()).unwrap(),
            r#"{"type":"scram_credential","name":"u","mechanism":"SCRAM-SHA-256","credential":{"salt":"01","stored_key":"02","server_key":"ff","iterations":4096}}"#
        );
        assert_eq!(MetadataRecord::decode(&s.encode()).unwrap(), s);
    }
}
