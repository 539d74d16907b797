//! Cluster metadata: the records that describe topics, partitions, configs
//! and producer-id blocks; the in-memory image they replay into; Kafka's
//! config definitions; and the controller that turns admin requests into
//! records. Sans-I/O: records in, image out. Persisting records is the
//! broker's job.

pub mod configs;
