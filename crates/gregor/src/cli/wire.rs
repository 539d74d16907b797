//! A minimal synchronous Kafka client for the requests librdkafka has no
//! API for (DescribeClientQuotas, AlterClientQuotas): one TCP connection to
//! the first bootstrap server that accepts, requests encoded and responses
//! decoded by the `kafka-protocol` crate, every read and write bounded by
//! the request timeout.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

use super::config::ConnectionArgs;
use super::errors::CliError;

/// Largest response accepted, so a confused peer cannot make us allocate
/// without bound.
const RESPONSE_BYTES_MAX: usize = 100 * 1024 * 1024;
const CLIENT_ID: &str = "gregor-cli";

pub struct WireClient {
    stream: TcpStream,
    correlation_id: i32,
}

impl WireClient {
    pub fn connect(conn: &ConnectionArgs) -> Result<WireClient, CliError> {
        let timeout = conn.request_timeout();
        let mut last_error = None;
        for server in conn.bootstrap_server.split(',').map(str::trim) {
            let addrs = match server.to_socket_addrs() {
                Ok(a) => a,
                Err(e) => {
                    last_error = Some(format!("{server}: {e}"));
                    continue;
                }
            };
            for addr in addrs {
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(stream) => {
                        let io = |e| CliError::io("could not configure the connection", e);
                        stream.set_read_timeout(Some(timeout)).map_err(io)?;
                        stream.set_write_timeout(Some(timeout)).map_err(io)?;
                        return Ok(WireClient {
                            stream,
                            correlation_id: 0,
                        });
                    }
                    Err(e) => last_error = Some(format!("connect to {addr} failed: {e}")),
                }
            }
        }
        Err(CliError::Unreachable {
            bootstrap: conn.bootstrap_server.clone(),
            timeout,
            detail: last_error,
        })
    }

    /// Sends `request` at `version` and waits for its response.
    pub fn send<R>(&mut self, request: &R, version: i16) -> Result<R::Response, CliError>
    where
        R: Request + Encodable,
        R::Response: Decodable,
    {
        let api_key = ApiKey::try_from(R::KEY)
            .map_err(|_| CliError::Client(format!("unknown api key {}", R::KEY)))?;
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
        let encode =
            |e: anyhow::Error| CliError::Client(format!("could not encode the request: {e}"));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, api_key.request_header_version(version))
            .map_err(encode)?;
        request.encode(&mut body, version).map_err(encode)?;
        let mut frame = BytesMut::with_capacity(4 + body.len());
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        let io = |e| CliError::io("the connection to the broker failed", e);
        self.stream.write_all(&frame).map_err(io)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(io)?;
        let len = usize::try_from(i32::from_be_bytes(len)).unwrap_or(usize::MAX);
        if len > RESPONSE_BYTES_MAX {
            return Err(CliError::Client(format!(
                "the broker sent a {len}-byte response"
            )));
        }
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload).map_err(io)?;
        let mut buf = Bytes::from(payload);
        let decode =
            |e: anyhow::Error| CliError::Client(format!("could not decode the response: {e}"));
        let header = ResponseHeader::decode(&mut buf, api_key.response_header_version(version))
            .map_err(decode)?;
        if header.correlation_id != self.correlation_id {
            return Err(CliError::Client(format!(
                "response correlation id {} does not match request {}",
                header.correlation_id, self.correlation_id
            )));
        }
        let response = R::Response::decode(&mut buf, version).map_err(decode)?;
        if buf.has_remaining() {
            return Err(CliError::Client(format!(
                "{} bytes left over after the response",
                buf.remaining()
            )));
        }
        Ok(response)
    }
}

/// Kafka's name for an error code (`INVALID_REQUEST`), for messages.
pub fn error_name(code: i16) -> String {
    let Some(error) = kafka_protocol::ResponseError::try_from_code(code) else {
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
