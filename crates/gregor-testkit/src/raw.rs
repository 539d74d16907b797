//! Raw Kafka wire access for tests that send malformed or unusual requests:
//! build a request frame by hand, send arbitrary bytes, read one
//! length-prefixed response frame with a deadline.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Largest response frame a test will accept; anything bigger is treated as a
/// protocol error rather than allocated.
const RESPONSE_FRAME_MAX_BYTES: usize = 64 * 1024 * 1024;

/// What came back from the broker when a test waited for one frame.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// A whole frame; the 4-byte length prefix is stripped.
    Frame(Vec<u8>),
    /// The broker closed (or reset) the connection before a whole frame
    /// arrived. `partial` is how many bytes of a frame had been read.
    Closed { partial: usize },
    /// Nothing complete arrived before the deadline; the connection is still
    /// open.
    TimedOut { partial: usize },
}

/// One blocking TCP connection to a broker, owned by the test thread.
pub struct RawConn {
    stream: TcpStream,
}

impl RawConn {
    /// Connects to `addr` (e.g. "127.0.0.1:9092") within `timeout`.
    pub fn connect(addr: &str, timeout: Duration) -> io::Result<RawConn> {
        let sock: SocketAddr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "no address"))?;
        let stream = TcpStream::connect_timeout(&sock, timeout)?;
        stream.set_nodelay(true)?;
        Ok(RawConn { stream })
    }

    /// Writes all of `bytes`. A broker that already closed the connection
    /// shows up as an `Err` (broken pipe / reset), which garbage tests may
    /// accept as "connection closed".
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Half-closes the connection: the broker sees end of input.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }

    /// Reads one length-prefixed frame, waiting at most `timeout` in total.
    pub fn read_frame(&mut self, timeout: Duration) -> io::Result<ReadOutcome> {
        let deadline = Instant::now() + timeout;
        let mut size = [0u8; 4];
        match self.read_exact_by(&mut size, deadline)? {
            Filled::Done => {}
            Filled::Closed(n) => return Ok(ReadOutcome::Closed { partial: n }),
            Filled::TimedOut(n) => return Ok(ReadOutcome::TimedOut { partial: n }),
        }
        let len = i32::from_be_bytes(size);
        if len < 0 || len as usize > RESPONSE_FRAME_MAX_BYTES {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("response frame length {len} out of range"),
            ));
        }
        let mut body = vec![0u8; len as usize];
        match self.read_exact_by(&mut body, deadline)? {
            Filled::Done => Ok(ReadOutcome::Frame(body)),
            Filled::Closed(n) => Ok(ReadOutcome::Closed { partial: 4 + n }),
            Filled::TimedOut(n) => Ok(ReadOutcome::TimedOut { partial: 4 + n }),
        }
    }

    /// Waits until the broker closes the connection, discarding anything it
    /// sends. Returns `true` if it closed before the deadline.
    pub fn wait_closed(&mut self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(false);
            };
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(_) => continue,
                Err(e) if is_timeout(&e) => return Ok(false),
                Err(e) if is_reset(&e) => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }

    fn read_exact_by(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<Filled> {
        let mut got = 0;
        while got < buf.len() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(Filled::TimedOut(got));
            };
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            match self.stream.read(&mut buf[got..]) {
                Ok(0) => return Ok(Filled::Closed(got)),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => return Ok(Filled::TimedOut(got)),
                Err(e) if is_reset(&e) => return Ok(Filled::Closed(got)),
                Err(e) => return Err(e),
            }
        }
        Ok(Filled::Done)
    }
}

enum Filled {
    Done,
    Closed(usize),
    TimedOut(usize),
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

/// Builds a request frame: length prefix, request header, `body`.
///
/// The header is v1 (api key, api version, correlation id, nullable client
/// id); with `flexible` it is v2, which appends an empty tagged-field section,
/// as clients do for flexible API versions.
pub fn request_frame(
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    flexible: bool,
    body: &[u8],
) -> Vec<u8> {
    let mut msg = Vec::with_capacity(64 + body.len());
    msg.extend_from_slice(&api_key.to_be_bytes());
    msg.extend_from_slice(&api_version.to_be_bytes());
    msg.extend_from_slice(&correlation_id.to_be_bytes());
    match client_id {
        Some(id) => {
            msg.extend_from_slice(&(id.len() as i16).to_be_bytes());
            msg.extend_from_slice(id.as_bytes());
        }
        None => msg.extend_from_slice(&(-1i16).to_be_bytes()),
    }
    if flexible {
        msg.push(0);
    }
    msg.extend_from_slice(body);
    let mut frame = Vec::with_capacity(4 + msg.len());
    frame.extend_from_slice(&(msg.len() as i32).to_be_bytes());
    frame.extend_from_slice(&msg);
    frame
}

/// An ApiVersions v0 request (empty body), the first thing clients send.
pub fn api_versions_v0_request(correlation_id: i32) -> Vec<u8> {
    request_frame(18, 0, correlation_id, Some("gregor-testkit"), false, &[])
}

/// A decoded ApiVersions response in its v0 layout, which is also the layout
/// a broker uses for the UNSUPPORTED_VERSION fallback answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    pub correlation_id: i32,
    pub error_code: i16,
    /// (api key, min version, max version)
    pub api_keys: Vec<(i16, i16, i16)>,
}

impl ApiVersionsResponse {
    /// The version range the broker advertised for `api_key`, if any.
    pub fn range(&self, api_key: i16) -> Option<(i16, i16)> {
        self.api_keys
            .iter()
            .find(|(k, _, _)| *k == api_key)
            .map(|(_, lo, hi)| (*lo, *hi))
    }
}

/// Parses a response frame (length prefix already stripped) as an
/// ApiVersions v0 response: response header v0, error code, non-flexible
/// array of api key ranges. Trailing bytes (v1+ throttle time) are allowed.
pub fn parse_api_versions_response(frame: &[u8]) -> io::Result<ApiVersionsResponse> {
    let bad = |what: &str| io::Error::new(ErrorKind::InvalidData, format!("ApiVersions: {what}"));
    let mut r = Cursor { buf: frame, pos: 0 };
    let correlation_id = r.i32().ok_or_else(|| bad("short header"))?;
    let error_code = r.i16().ok_or_else(|| bad("short error code"))?;
    let n = r.i32().ok_or_else(|| bad("short array length"))?;
    if n < 0 || n as usize > frame.len() / 6 {
        return Err(bad(&format!("array length {n}")));
    }
    let mut api_keys = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let k = r.i16().ok_or_else(|| bad("short entry"))?;
        let lo = r.i16().ok_or_else(|| bad("short entry"))?;
        let hi = r.i16().ok_or_else(|| bad("short entry"))?;
        api_keys.push((k, lo, hi));
    }
    Ok(ApiVersionsResponse {
        correlation_id,
        error_code,
        api_keys,
    })
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.buf.get(self.pos..self.pos + N)?;
        self.pos += N;
        s.try_into().ok()
    }
    fn i16(&mut self) -> Option<i16> {
        self.take::<2>().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take::<4>().map(i32::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_v0_request_bytes_are_pinned() {
        let f = api_versions_v0_request(7);
        let mut want = vec![0, 0, 0, 24, 0, 18, 0, 0, 0, 0, 0, 7, 0, 14];
        want.extend_from_slice(b"gregor-testkit");
        assert_eq!(f, want);
    }

    #[test]
    fn flexible_header_appends_empty_tag_section() {
        let f = request_frame(18, 3, 1, None, true, &[9]);
        assert_eq!(
            f,
            vec![0, 0, 0, 12, 0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0, 9]
        );
    }

    #[test]
    fn parses_api_versions_v0_response() {
        let mut b = vec![0, 0, 0, 5, 0, 35, 0, 0, 0, 2];
        b.extend_from_slice(&[0, 0, 0, 0, 0, 9, 0, 18, 0, 0, 0, 4]);
        let r = parse_api_versions_response(&b).unwrap();
        assert_eq!(r.correlation_id, 5);
        assert_eq!(r.error_code, 35);
        assert_eq!(r.range(18), Some((0, 4)));
        assert_eq!(r.range(1), None);
        assert!(parse_api_versions_response(&b[..13]).is_err());
    }
}
