//! One client connection: frames in, responses out, in request order.
//!
//! Requests on a connection are handled one after another, as Kafka does:
//! that keeps produce requests of one connection in order (an idempotent
//! producer relies on it) and makes response order trivially right. The
//! reader keeps accepting pipelined frames into its buffer meanwhile, and
//! responses are flushed together once no complete request is waiting.
//!
//! Fetch responses are written in parts: the encoded fields go through the
//! write buffer, and each stored record set of 16 KiB or more goes from its
//! segment file to the socket with `sendfile`, never entering user space.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gregor_log::FileSlice;
use gregor_protocol::frame::split_frame;
use gregor_protocol::kafka_protocol::messages::{ApiKey, ResponseKind};
use gregor_protocol::request::{api_name, decode_request, encode_response, peek_header};
use gregor_protocol::splice::{encode_response_spliced, FramePart};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter, Interest};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::broker::Broker;
use crate::handlers::{self, Reply, RequestContext};
use crate::quota::{self, Throttle};

/// Initial read buffer; grows to the largest frame seen.
const READ_BUFFER_BYTES: usize = 64 * 1024;
/// Write buffer in front of the socket.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;
/// Record sets at least this long are sent with `sendfile`; shorter ones
/// are copied into the write buffer, which saves a flush and a syscall.
const SENDFILE_MIN_BYTES: usize = 16 * 1024;

/// Why a connection ended.
#[derive(Debug)]
enum Close {
    PeerClosed,
    Idle,
    Shutdown,
    Protocol(String),
    Io(std::io::Error),
}

pub async fn serve(
    broker: Arc<Broker>,
    listener: Arc<str>,
    stream: TcpStream,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
) {
    debug!(%peer, "connection opened");
    match run(&broker, &listener, stream, peer, stop).await {
        Close::PeerClosed | Close::Shutdown => debug!(%peer, "connection closed"),
        Close::Idle => debug!(%peer, "closing idle connection (connections.max.idle.ms)"),
        Close::Protocol(why) => info!(%peer, %why, "closing connection after a malformed request"),
        Close::Io(e) => debug!(%peer, error = %e, "connection error"),
    }
}

async fn run(
    broker: &Arc<Broker>,
    listener: &Arc<str>,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> Close {
    let (mut reader, writer) = stream.into_split();
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER_BYTES, writer);
    let mut buf = BytesMut::with_capacity(READ_BUFFER_BYTES);
    let frame_bytes_max = broker.config.socket_request_max_bytes;
    let idle = Duration::from_millis(broker.config.connections_max_idle_ms);
    loop {
        let frame = match split_frame(&mut buf, frame_bytes_max) {
            Ok(Some(frame)) => frame.freeze(),
            Ok(None) => {
                if let Err(e) = writer.flush().await {
                    return Close::Io(e);
                }
                tokio::select! {
                    read = tokio::time::timeout(idle, reader.read_buf(&mut buf)) => match read {
                        Err(_) => return Close::Idle,
                        Ok(Ok(0)) => return Close::PeerClosed,
                        Ok(Ok(_)) => continue,
                        Ok(Err(e)) => return Close::Io(e),
                    },
                    _ = stop.changed() => return Close::Shutdown,
                }
            }
            Err(e) => return Close::Protocol(e.to_string()),
        };
        match handle_frame(broker, listener, frame, peer).await {
            Ok((response, throttle)) => {
                let muted = Duration::from_millis(u64::try_from(throttle.ms).unwrap_or(0));
                if !muted.is_zero() && !throttle.send_first {
                    if let Some(close) = mute(muted, &mut stop).await {
                        return close;
                    }
                }
                if let Some(response) = response {
                    if let Err(e) = write_response(&mut writer, response).await {
                        return Close::Io(e);
                    }
                }
                if !muted.is_zero() && throttle.send_first {
                    if let Err(e) = writer.flush().await {
                        return Close::Io(e);
                    }
                    if let Some(close) = mute(muted, &mut stop).await {
                        return close;
                    }
                }
            }
            Err(why) => {
                let _ = writer.flush().await;
                return Close::Protocol(why);
            }
        }
    }
}

/// Stops reading the connection for a client's throttle time (Kafka mutes
/// the channel): pipelined requests wait in the socket meanwhile.
async fn mute(duration: Duration, stop: &mut watch::Receiver<bool>) -> Option<Close> {
    tokio::select! {
        _ = tokio::time::sleep(duration) => None,
        _ = stop.changed() => Some(Close::Shutdown),
    }
}

/// An encoded response, whole or in parts (see the module comment).
enum Outgoing {
    Frame(BytesMut),
    Parts(Vec<FramePart>, Vec<Vec<FileSlice>>),
}

impl From<BytesMut> for Outgoing {
    fn from(frame: BytesMut) -> Outgoing {
        Outgoing::Frame(frame)
    }
}

async fn write_response(
    writer: &mut BufWriter<OwnedWriteHalf>,
    response: Outgoing,
) -> io::Result<()> {
    let (parts, records) = match response {
        Outgoing::Frame(frame) => return writer.write_all(&frame).await,
        Outgoing::Parts(parts, records) => (parts, records),
    };
    for part in parts {
        let index = match part {
            FramePart::Bytes(bytes) => {
                writer.write_all(&bytes).await?;
                continue;
            }
            FramePart::Records(index) => index,
        };
        for slice in records.get(index).into_iter().flatten() {
            match slice.raw_fd().filter(|_| slice.len() >= SENDFILE_MIN_BYTES) {
                Some(fd) => {
                    writer.flush().await?;
                    send_file(writer.get_ref().as_ref(), fd, slice).await?;
                }
                None => writer.write_all(&slice.read()?).await?,
            }
        }
    }
    Ok(())
}

/// Sends a file slice to the socket with `sendfile(2)`. The slice holds the
/// file open, so `fd` stays valid throughout.
async fn send_file(stream: &TcpStream, fd: RawFd, slice: &FileSlice) -> io::Result<()> {
    let (mut position, mut left) = (slice.position(), slice.len());
    while left > 0 {
        stream.writable().await?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            let mut offset = libc::off_t::try_from(position)
                .map_err(|_| io::Error::other("file position out of range"))?;
            // SAFETY: both descriptors are open for the whole call (the
            // stream is borrowed, the slice keeps the file open) and
            // `offset` is a valid, exclusively borrowed off_t.
            let n = unsafe { libc::sendfile(stream.as_raw_fd(), fd, &mut offset, left) };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        });
        match sent {
            Ok(0) => {
                // The frame's length is already on the wire; a short body
                // cannot be repaired, so the connection closes.
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "segment file ended inside a fetch slice",
                ));
            }
            Ok(n) => {
                position += n as u64;
                left -= n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Handles one request frame: the response (`None` when none is due, as
/// for produce with acks=0) and the client's quota throttle. `Err` means
/// the connection must be closed, which is what Kafka does for requests it
/// cannot parse.
async fn handle_frame(
    broker: &Arc<Broker>,
    listener: &Arc<str>,
    frame: Bytes,
    peer: SocketAddr,
) -> Result<(Option<Outgoing>, Throttle), String> {
    let unthrottled = Throttle {
        ms: 0,
        send_first: true,
    };
    let prefix = peek_header(&frame).map_err(|e| e.to_string())?;
    let Ok(api_key) = ApiKey::try_from(prefix.api_key) else {
        return Err(format!("unknown api key {}", prefix.api_key));
    };
    let Some(support) = handlers::support(api_key) else {
        return answer_unserved(api_key, prefix.api_version, prefix.correlation_id, frame)
            .map(|out| (out, unthrottled));
    };
    if !support.contains(prefix.api_version) {
        if api_key == ApiKey::ApiVersions {
            // Kafka answers an ApiVersions request it does not understand with a
            // v0 response carrying UNSUPPORTED_VERSION and the supported table,
            // so the client can pick a version it shares with us.
            let body: ResponseKind = handlers::api_versions::unsupported_version_response().into();
            let out = encode_response(api_key, 0, prefix.correlation_id, &body)
                .map_err(|e| e.to_string())?;
            return Ok((Some(out.into()), unthrottled));
        }
        return Err(format!(
            "{} v{} is outside the supported range {}..={}",
            api_name(api_key),
            prefix.api_version,
            support.min,
            support.max
        ));
    }
    let request_bytes = frame.len();
    let request = decode_request(frame).map_err(|e| e.to_string())?;
    let ctx = RequestContext {
        api_version: request.version(),
        correlation_id: prefix.correlation_id,
        client_id: request
            .header
            .client_id
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        peer,
        listener: listener.clone(),
    };
    let started = Instant::now();
    let mut reply = handlers::dispatch(broker, &ctx, request.body).await;
    let throttle = quota::charge(
        broker,
        &ctx,
        api_key,
        request_bytes,
        started.elapsed(),
        reply.as_mut(),
    );
    let Some(reply) = reply else {
        return Ok((None, throttle));
    };
    let encoded = match reply {
        Reply::Body(body) => {
            encode_response(api_key, ctx.api_version, ctx.correlation_id, &body).map(Outgoing::from)
        }
        Reply::Fetch(fetch) => encode_response_spliced(
            api_key,
            ctx.api_version,
            ctx.correlation_id,
            &fetch.response,
            &fetch.record_lens(),
        )
        .map(|parts| Outgoing::Parts(parts, fetch.records)),
    };
    match encoded {
        Ok(out) => Ok((Some(out), throttle)),
        Err(e) => {
            warn!(api = api_name(api_key), version = ctx.api_version, error = %e, "response encoding failed");
            Err(e.to_string())
        }
    }
}

/// A request of an API the broker knows but does not serve: answered with
/// that API's error response where the request is well-formed and the
/// response has a top-level error code (see `handlers::unsupported`);
/// otherwise the connection closes, as Kafka closes it for an API or
/// version it cannot parse.
fn answer_unserved(
    api_key: ApiKey,
    api_version: i16,
    correlation_id: i32,
    frame: Bytes,
) -> Result<Option<Outgoing>, String> {
    let range = api_key.valid_versions();
    let not_served = || {
        format!(
            "{} v{api_version} is not served by this broker",
            api_name(api_key)
        )
    };
    if api_version < range.min || api_version > range.max {
        return Err(not_served());
    }
    let request = decode_request(frame).map_err(|e| e.to_string())?;
    let response = handlers::unsupported::error_response(&request.body).ok_or_else(not_served)?;
    // A version whose response lacks the error field cannot carry the answer.
    encode_response(api_key, api_version, correlation_id, &response)
        .map(|out| Some(out.into()))
        .map_err(|_| not_served())
}
