//! Cluster metadata: the records that describe topics, partitions, configs
//! and producer-id blocks; the in-memory image they replay into; Kafka's
//! config definitions; and the controller that turns admin requests into
//! records. Sans-I/O: records in, image out. Persisting records is the
//! broker's job.

pub mod acl;
pub mod authorizer;
pub mod configs;
pub mod controller;
pub mod image;
pub mod quotas;
pub mod records;
pub mod scram;

pub use controller::{ApiError, ClusterContext, NewTopic};
pub use image::{MetadataImage, PartitionImage, TopicImage};
pub use records::{ConfigResource, MetadataRecord};

use thiserror::Error;

/// Errors of this crate: only decoding a stored record can fail.
#[derive(Debug, Error)]
pub enum MetadataError {
    #[error("metadata record is unreadable: {0}")]
    BadRecord(String),
}
