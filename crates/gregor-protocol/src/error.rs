//! The protocol crate's one error type.

use thiserror::Error;

/// Errors found while framing or decoding a request. Each one means the
/// peer sent something malformed; the broker decides whether that closes the
/// connection or earns a Kafka error code.
#[derive(Debug, Error)]
pub enum ProtocolError {
    #[error("frame length {len} is negative or exceeds socket.request.max.bytes ({max})")]
    FrameTooLarge { len: i64, max: usize },
    #[error("request header is malformed: {0}")]
    BadHeader(String),
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    #[error("{api} v{version} request body is malformed: {reason}")]
    BadBody {
        api: &'static str,
        version: i16,
        reason: String,
    },
}
