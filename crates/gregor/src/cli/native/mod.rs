//! Admin requests the CLI needs that the `rdkafka` crate does not wrap (or
//! wraps without the broker's error message), called through librdkafka's
//! C API (re-exported as `rdkafka::bindings`):
//!
//! - CreateTopics, DeleteTopics and CreatePartitions (`topics.rs`), because
//!   kafka-topics.sh shows the broker's error message and rdkafka drops it;
//! - DescribeTopics (`topics.rs`), only to print topic ids;
//! - ListOffsets (`offsets.rs`), which `gregor offsets` uses like
//!   kafka-get-offsets.sh uses `Admin.listOffsets`: one batched request, and
//!   the max-timestamp spec (-3) that `offsets_for_times` cannot express;
//! - DeleteConsumerGroupOffsets (`groups.rs`), for `gregor groups
//!   delete-offsets`;
//!
//! and reads the reason a connection failed from the client's event queue,
//! which rdkafka only serves while a consumer or producer is being polled.
//!
//! Every librdkafka object is owned by a guard that destroys it, and every
//! wait is bounded by the request timeout.

mod groups;
mod offsets;
mod topics;

use std::ffi::CStr;
use std::os::raw::c_char;
use std::ptr;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::ClientContext;

pub use groups::{delete_group_offsets, list_group_listings, list_groups, GroupDescription};
pub use offsets::{list_offsets, OffsetSpec};
pub use topics::{
    create_partitions, create_topic, delete_topic, topic_ids, NewTopicSpec, TopicOutcome,
};

/// Extra time given to librdkafka to deliver a result after the request
/// timeout it enforces itself, before the CLI stops waiting.
const RESULT_GRACE: Duration = Duration::from_secs(2);

/// Why a whole native request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeError {
    pub code: RDKafkaErrorCode,
    pub message: String,
}

macro_rules! guard {
    ($name:ident, $ty:ty, $destroy:path) => {
        pub(super) struct $name(pub(super) *mut $ty);
        impl Drop for $name {
            fn drop(&mut self) {
                if !self.0.is_null() {
                    // SAFETY: the pointer came from the matching librdkafka
                    // constructor and is destroyed exactly once, here.
                    unsafe { $destroy(self.0) }
                }
            }
        }
    };
}
pub(super) use guard;

guard!(Queue, rd::rd_kafka_queue_t, rd::rd_kafka_queue_destroy);
guard!(
    Options,
    rd::rd_kafka_AdminOptions_t,
    rd::rd_kafka_AdminOptions_destroy
);
guard!(Event, rd::rd_kafka_event_t, rd::rd_kafka_event_destroy);

pub(super) fn timeout_ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

pub(super) fn local_error(code: RDKafkaErrorCode, message: impl Into<String>) -> NativeError {
    NativeError {
        code,
        message: message.into(),
    }
}

/// Creates admin options for `op` with `timeout` as the request timeout.
pub(super) fn admin_options<C: ClientContext>(
    client: &Client<C>,
    op: rd::rd_kafka_admin_op_t,
    timeout: Duration,
) -> Result<Options, NativeError> {
    // SAFETY: the client handle is valid for the lifetime of `client`.
    let options = Options(unsafe { rd::rd_kafka_AdminOptions_new(client.native_ptr(), op) });
    if options.0.is_null() {
        return Err(local_error(
            RDKafkaErrorCode::Fail,
            "could not create admin options",
        ));
    }
    let mut errstr = [0 as c_char; ERRSTR_BYTES];
    // SAFETY: options is valid; errstr is a writable buffer of the given size.
    let err = unsafe {
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options.0,
            timeout_ms(timeout),
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    check(err, &errstr)?;
    Ok(options)
}

/// Lets the broker wait up to `timeout` for a topic change to take effect
/// before answering (CreateTopics, DeleteTopics, CreatePartitions).
pub(super) fn set_operation_timeout(
    options: &Options,
    timeout: Duration,
) -> Result<(), NativeError> {
    let mut errstr = [0 as c_char; ERRSTR_BYTES];
    // SAFETY: options is valid; errstr is a writable buffer of the given size.
    let err = unsafe {
        rd::rd_kafka_AdminOptions_set_operation_timeout(
            options.0,
            timeout_ms(timeout),
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    check(err, &errstr)
}

/// Size of the error text buffers librdkafka constructors write into.
pub(super) const ERRSTR_BYTES: usize = 512;

/// Turns a librdkafka status and its error text buffer into a `Result`.
pub(super) fn check(err: rd::rd_kafka_resp_err_t, errstr: &[c_char]) -> Result<(), NativeError> {
    if err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Ok(());
    }
    Err(local_error(err.into(), errstr_text(errstr)))
}

/// The NUL-terminated text librdkafka wrote into `errstr`.
pub(super) fn errstr_text(errstr: &[c_char]) -> String {
    let bytes: Vec<u8> = errstr
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub(super) fn new_queue<C: ClientContext>(client: &Client<C>) -> Result<Queue, NativeError> {
    // SAFETY: the client handle is valid for the lifetime of `client`.
    let queue = Queue(unsafe { rd::rd_kafka_queue_new(client.native_ptr()) });
    if queue.0.is_null() {
        return Err(local_error(
            RDKafkaErrorCode::Fail,
            "could not create a result queue",
        ));
    }
    Ok(queue)
}

/// Waits for the one result event of a request sent to `queue`, and checks
/// its request-level error.
pub(super) fn wait_result(queue: &Queue, timeout: Duration) -> Result<Event, NativeError> {
    // SAFETY: the queue is valid; the returned event (if any) is ours.
    let event =
        Event(unsafe { rd::rd_kafka_queue_poll(queue.0, timeout_ms(timeout + RESULT_GRACE)) });
    if event.0.is_null() {
        return Err(local_error(
            RDKafkaErrorCode::OperationTimedOut,
            "no result within the request timeout",
        ));
    }
    // SAFETY: the event is valid until dropped.
    let err = unsafe { rd::rd_kafka_event_error(event.0) };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        // SAFETY: the error string lives as long as the event.
        let message = unsafe { cstr_or_empty(rd::rd_kafka_event_error_string(event.0)) };
        return Err(local_error(err.into(), message));
    }
    Ok(event)
}

/// # Safety
/// `p` is null or a valid NUL-terminated string.
pub(super) unsafe fn cstr_or_empty(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// Queued events inspected when looking for a connection failure; a client
/// that failed for a few seconds has a handful.
const DRAINED_EVENTS_MAX: usize = 1000;
/// Queued log lines printed at most for `-X debug=...`.
const DEBUG_EVENTS_MAX: usize = 100_000;

/// A log line or error event taken off a client's queue.
enum QueuedEvent {
    Log {
        facility: String,
        level: i32,
        text: String,
    },
    Error {
        code: RDKafkaErrorCode,
        text: String,
    },
}

/// Takes up to `max` log and error events off `client`'s queues, in order,
/// discarding everything else queued there. Only for clients that nothing
/// else polls (admin clients) or that are about to be abandoned.
fn drain_events<C: ClientContext>(
    client: &Client<C>,
    max: usize,
    mut each: impl FnMut(QueuedEvent),
) {
    let rk = client.native_ptr();
    // A consumer's main queue is forwarded to its consumer queue.
    let getters: [unsafe extern "C" fn(*mut rd::rd_kafka_t) -> *mut rd::rd_kafka_queue_t; 2] =
        [rd::rd_kafka_queue_get_consumer, rd::rd_kafka_queue_get_main];
    for get in getters {
        // SAFETY: the client handle is valid; the returned reference (or
        // null) is released by the guard.
        let queue = Queue(unsafe { get(rk) });
        if queue.0.is_null() {
            continue;
        }
        for _ in 0..max {
            // SAFETY: the queue is valid; a zero timeout does not block.
            let event = Event(unsafe { rd::rd_kafka_queue_poll(queue.0, 0) });
            if event.0.is_null() {
                break;
            }
            // SAFETY: the event is valid until dropped; strings it returns
            // live as long as the event and are copied before it is.
            unsafe {
                match rd::rd_kafka_event_type(event.0) {
                    rd::RD_KAFKA_EVENT_LOG => {
                        let (mut fac, mut text, mut level) = (ptr::null(), ptr::null(), 0);
                        if rd::rd_kafka_event_log(event.0, &mut fac, &mut text, &mut level) == 0 {
                            each(QueuedEvent::Log {
                                facility: cstr_or_empty(fac),
                                level,
                                text: cstr_or_empty(text),
                            });
                        }
                    }
                    rd::RD_KAFKA_EVENT_ERROR => each(QueuedEvent::Error {
                        code: rd::rd_kafka_event_error(event.0).into(),
                        text: cstr_or_empty(rd::rd_kafka_event_error_string(event.0)),
                    }),
                    _ => {}
                }
            }
        }
    }
}

/// The most recent connection failure librdkafka queued for `client` (a
/// `FAIL` log line or an error event). Only for use when the command is
/// about to fail anyway: it discards the other queued events.
pub fn pending_connection_error<C: ClientContext>(client: &Client<C>) -> Option<String> {
    let mut found: Option<String> = None;
    drain_events(client, DRAINED_EVENTS_MAX, |event| match event {
        QueuedEvent::Log { facility, text, .. } if facility == "FAIL" || facility == "ERROR" => {
            found = Some(strip_thread_prefix(&text).to_string());
        }
        // "1/1 brokers are down" follows the error that explains it; keep
        // the explanation.
        QueuedEvent::Error { code, text }
            if code != RDKafkaErrorCode::AllBrokersDown || found.is_none() =>
        {
            found = Some(text);
        }
        _ => {}
    });
    found
}

/// Prints the log lines queued on a client nothing polls (an admin
/// client), for `-X debug=...`; rdkafka would otherwise never show them.
pub fn print_pending_logs<C: ClientContext>(client: &Client<C>) {
    drain_events(client, DEBUG_EVENTS_MAX, |event| match event {
        QueuedEvent::Log {
            facility,
            level,
            text,
        } => eprintln!("rdkafka {level} {facility}: {text}"),
        QueuedEvent::Error { code, text } => eprintln!("rdkafka error {code:?}: {text}"),
    });
}

/// librdkafka log lines start with "[thrd:...]: "; a person needs the rest.
pub fn strip_thread_prefix(message: &str) -> &str {
    match message.strip_prefix("[thrd:") {
        Some(rest) => rest.split_once("]: ").map_or(message, |(_, m)| m),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_prefix_is_stripped() {
        assert_eq!(
            strip_thread_prefix(
                "[thrd:127.0.0.1:1/bootstrap]: 127.0.0.1:1/bootstrap: Connect failed"
            ),
            "127.0.0.1:1/bootstrap: Connect failed"
        );
        assert_eq!(strip_thread_prefix("plain"), "plain");
    }
}
