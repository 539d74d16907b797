//! A minimal blocking Kafka protocol client for the admin requests
//! librdkafka cannot express: client quotas (no API at all), and configs of
//! the cluster-wide default broker (its ConfigResource refuses the empty
//! name that `kafka-configs.sh --entity-default` sends; its config entries
//! do not carry the broker's error message either). One request at a time
//! on one connection to the first bootstrap server that accepts one;
//! requests encoded and responses decoded by `kafka-protocol`; PLAINTEXT only.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use gregor_protocol::kafka_protocol::messages::{RequestHeader, ResponseHeader};
use gregor_protocol::kafka_protocol::protocol::{
    Decodable, Encodable, HeaderVersion, Request, StrBytes,
};
use rdkafka::error::RDKafkaErrorCode;

use super::errors::{CliError, Subject};

/// Largest response this client reads; config listings are a few hundred KiB.
const RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// One connection to a broker. Lives on the command's thread.
pub struct WireClient {
    stream: TcpStream,
    correlation_id: i32,
}

impl WireClient {
    /// Connects to the first of the comma-separated bootstrap servers that answers.
    pub fn connect(bootstrap: &str, timeout: Duration) -> Result<WireClient, CliError> {
        let mut last = None;
        for server in bootstrap
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let addrs = match server.to_socket_addrs() {
                Ok(a) => a,
                Err(e) => {
                    last = Some(format!("{server}: {e}"));
                    continue;
                }
            };
            for addr in addrs {
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(stream) => {
                        stream
                            .set_read_timeout(Some(timeout))
                            .and_then(|_| stream.set_write_timeout(Some(timeout)))
                            .map_err(|e| CliError::io("could not configure the socket", e))?;
                        return Ok(WireClient {
                            stream,
                            correlation_id: 0,
                        });
                    }
                    Err(e) => last = Some(format!("connect to {addr} failed: {e}")),
                }
            }
        }
        Err(CliError::Unreachable {
            bootstrap: bootstrap.to_string(),
            timeout,
            detail: last,
        })
    }

    /// Sends `req` at `version` and waits for its response.
    pub fn call<R: Request>(&mut self, req: &R, version: i16) -> Result<R::Response, CliError> {
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("gregor-cli")));
        let mut body = BytesMut::new();
        let encoded = header
            .encode(&mut body, R::header_version(version))
            .and_then(|_| req.encode(&mut body, version));
        encoded.map_err(|e| CliError::Client(format!("could not encode the request: {e}")))?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        let io = |e| CliError::io("the connection to the broker failed", e);
        self.stream.write_all(&frame).map_err(io)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(io)?;
        let len = i32::from_be_bytes(len);
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= RESPONSE_BYTES_MAX)
            .ok_or_else(|| CliError::Client(format!("the broker sent a frame of {len} bytes")))?;
        let mut buf = vec![0u8; len];
        self.stream.read_exact(&mut buf).map_err(io)?;
        let mut buf = bytes::Bytes::from(buf);
        let bad =
            |e: anyhow::Error| CliError::Client(format!("could not decode the response: {e}"));
        let header =
            ResponseHeader::decode(&mut buf, R::Response::header_version(version)).map_err(bad)?;
        if header.correlation_id != self.correlation_id {
            return Err(CliError::Client(format!(
                "response for request {} arrived while waiting for {}",
                header.correlation_id, self.correlation_id
            )));
        }
        let resp = R::Response::decode(&mut buf, version).map_err(bad)?;
        if buf.has_remaining() {
            return Err(CliError::Client(format!(
                "{} bytes left over after the response",
                buf.remaining()
            )));
        }
        Ok(resp)
    }
}

/// Error codes the admin requests of this client can return.
const KNOWN_CODES: &[RDKafkaErrorCode] = &[
    RDKafkaErrorCode::Unknown,
    RDKafkaErrorCode::UnknownTopicOrPartition,
    RDKafkaErrorCode::InvalidConfig,
    RDKafkaErrorCode::InvalidRequest,
    RDKafkaErrorCode::PolicyViolation,
    RDKafkaErrorCode::TopicAuthorizationFailed,
    RDKafkaErrorCode::ClusterAuthorizationFailed,
    RDKafkaErrorCode::UnsupportedVersion,
    RDKafkaErrorCode::InvalidTopic,
    RDKafkaErrorCode::NotController,
];

/// The CLI error for a response's error code and message.
pub fn response_error(code: i16, message: Option<&str>, subject: Subject<'_>) -> CliError {
    match KNOWN_CODES.iter().find(|c| **c as i32 == i32::from(code)) {
        Some(c) => CliError::broker_with_message(*c, subject, message.unwrap_or("")),
        None => CliError::Client(format!(
            "the broker answered with error code {code}: {}",
            message.unwrap_or("")
        )),
    }
}

/// Kafka's name for an error code (`INVALID_REQUEST`), for messages.
pub fn error_name(code: i16) -> String {
    let Some(error) = gregor_protocol::kafka_protocol::ResponseError::try_from_code(code) else {
        return format!("error code {code}");
    };
    // The enum's variant names are Kafka's names in CamelCase.
    let camel = format!("{error:?}");
    let mut name = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}
