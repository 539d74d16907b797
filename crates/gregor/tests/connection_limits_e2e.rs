//! Connection limits on the real binary, over raw TCP: max.connections.per.ip
//! closes the connection over the limit, max.connections (broker-wide or the
//! listener's own) holds a new one unanswered until another closes, and an
//! ip `connection_creation_rate` quota closes connections over the rate
//! without serving them.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use gregor_testkit::BrokerOptions;

/// ApiVersions v0 with correlation id 7 and client id "probe".
fn api_versions_request() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes()); // api key
    body.extend_from_slice(&0i16.to_be_bytes()); // version
    body.extend_from_slice(&7i32.to_be_bytes()); // correlation id
    body.extend_from_slice(&5i16.to_be_bytes());
    body.extend_from_slice(b"probe");
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend(body);
    frame
}

/// Sends ApiVersions and waits up to `wait` for the answer: `Some(true)`
/// answered, `Some(false)` closed by the broker, `None` still waiting.
fn ask(stream: &mut TcpStream, wait: Duration) -> Option<bool> {
    stream.set_read_timeout(Some(wait)).unwrap();
    if stream.write_all(&api_versions_request()).is_err() {
        return Some(false);
    }
    let mut size = [0u8; 4];
    match stream.read_exact(&mut size) {
        Ok(()) => {
            let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
            stream.read_exact(&mut body).ok()?;
            assert_eq!(&body[..4], &7i32.to_be_bytes(), "correlation id");
            Some(true)
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        Err(_) => Some(false),
    }
}

fn connect(bootstrap: &str) -> TcpStream {
    TcpStream::connect(bootstrap).expect("connect")
}

/// Connects and asks until the broker answers (earlier connections, such as
/// the test kit's readiness probe, may take a moment to be counted out).
fn served(bootstrap: &str) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut s = connect(bootstrap);
        if ask(&mut s, Duration::from_secs(5)) == Some(true) {
            return s;
        }
        assert!(Instant::now() < deadline, "no connection was served");
        sleep(Duration::from_millis(50));
    }
}

#[test]
fn max_connections_per_ip_closes_the_connection_over_the_limit() {
    let broker =
        start_broker_with(BrokerOptions::default().with_override("max.connections.per.ip", "2"));
    let b = broker.bootstrap();
    let first = served(&b);
    let _second = served(&b);
    let mut third = connect(&b);
    assert_eq!(ask(&mut third, Duration::from_secs(5)), Some(false));
    // Once one closes, its address may connect again.
    drop(first);
    let _again = served(&b);
}

#[test]
fn max_connections_holds_a_new_connection_until_one_closes() {
    let broker = start_broker_with(BrokerOptions::default().with_override("max.connections", "2"));
    let b = broker.bootstrap();
    let first = served(&b);
    let _second = served(&b);
    let mut third = connect(&b);
    assert_eq!(
        ask(&mut third, Duration::from_millis(700)),
        None,
        "answered over max.connections"
    );
    drop(first);
    // The request already sent is answered once the connection is served.
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut size = [0u8; 4];
    third
        .read_exact(&mut size)
        .expect("answered after a slot was freed");
}

#[test]
fn a_listeners_own_max_connections_holds_its_new_connections() {
    let broker = start_broker_with(
        BrokerOptions::default().with_override("listener.name.plaintext.max.connections", "1"),
    );
    let b = broker.bootstrap();
    let first = served(&b);
    let mut second = connect(&b);
    assert_eq!(
        ask(&mut second, Duration::from_millis(700)),
        None,
        "answered over the listener's limit"
    );
    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut size = [0u8; 4];
    second
        .read_exact(&mut size)
        .expect("answered after a slot was freed");
}

#[test]
fn an_ip_connection_rate_quota_closes_connections_over_it() {
    let broker = start_broker();
    let b = broker.bootstrap();
    let out = Command::new(gregor_bin())
        .args([
            "quotas",
            "alter",
            "--bootstrap-server",
            &b,
            "--ip",
            "127.0.0.1",
        ])
        .args(["--add-config", "connection_creation_rate=1"])
        .output()
        .expect("run gregor quotas");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // At 1 per second measured over 10 windows, about 10 connections fit
    // in the first moments; the rest are held for at most a window and
    // closed unanswered.
    let mut answered = 0;
    let mut refused = 0;
    for _ in 0..20 {
        let mut s = connect(&b);
        match ask(&mut s, Duration::from_secs(3)) {
            Some(true) => answered += 1,
            Some(false) => refused += 1,
            None => panic!("a throttled connection was held longer than a quota window"),
        }
    }
    assert!((1..=12).contains(&answered), "answered {answered}");
    assert!(refused >= 8, "refused {refused}");
}
