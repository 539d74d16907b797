//! Kafka wire protocol for Gregor: framing (4-byte big-endian length prefix),
//! request/response envelopes over the `kafka-protocol` crate, and zero-copy
//! record-batch header parsing and validation.
//!
//! This crate does no I/O and knows nothing of tokio: bytes in, typed values
//! out. The broker converts [`ProtocolError`] into Kafka error codes or
//! connection closes at its edge.

pub mod batch;
pub mod error;
pub mod frame;
pub mod record_keys;
pub mod request;
pub mod splice;

pub use error::ProtocolError;
pub use kafka_protocol;
