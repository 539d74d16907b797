//! The two admin requests the CLI needs that the `rdkafka` crate does not
//! wrap, called through librdkafka's C API (re-exported as
//! `rdkafka::bindings`):
//!
//! - ListOffsets, which `gregor offsets` uses like kafka-get-offsets.sh uses
//!   `Admin.listOffsets`: one batched request for every partition, and the
//!   max-timestamp spec (-3) that `offsets_for_times` cannot express;
//! - DescribeTopics, only to print topic ids in `topics describe`;
//!
//! and reads the reason a connection failed from the client's event queue,
//! which rdkafka only serves while a consumer or producer is being polled.
//!
//! Every librdkafka object is owned by a guard that destroys it, and every
//! wait is bounded by the request timeout.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::ClientContext;

/// Extra time given to librdkafka to deliver a result after the request
/// timeout it enforces itself, before the CLI stops waiting.
const RESULT_GRACE: Duration = Duration::from_secs(2);

/// Which offset ListOffsets should find, as in Kafka's `OffsetSpec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    Latest,
    Earliest,
    /// The offset of the record with the largest timestamp.
    MaxTimestamp,
    /// The earliest offset whose timestamp is at or after this many
    /// milliseconds since the epoch.
    Timestamp(i64),
}

impl OffsetSpec {
    fn raw(self) -> i64 {
        match self {
            OffsetSpec::Latest => -1,
            OffsetSpec::Earliest => -2,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::Timestamp(ms) => ms,
        }
    }
}

/// The answer for one partition. `offset` is -1 when no record matches
/// (a timestamp after the last record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedOffset {
    pub topic: String,
    pub partition: i32,
    pub result: Result<i64, RDKafkaErrorCode>,
}

/// Why a whole native request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeError {
    pub code: RDKafkaErrorCode,
    pub message: String,
}

macro_rules! guard {
    ($name:ident, $ty:ty, $destroy:path) => {
        struct $name(*mut $ty);
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

guard!(Queue, rd::rd_kafka_queue_t, rd::rd_kafka_queue_destroy);
guard!(
    Options,
    rd::rd_kafka_AdminOptions_t,
    rd::rd_kafka_AdminOptions_destroy
);
guard!(Event, rd::rd_kafka_event_t, rd::rd_kafka_event_destroy);
guard!(
    PartitionList,
    rd::rd_kafka_topic_partition_list_t,
    rd::rd_kafka_topic_partition_list_destroy
);
guard!(
    TopicCollection,
    rd::rd_kafka_TopicCollection_t,
    rd::rd_kafka_TopicCollection_destroy
);

fn timeout_ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn local_error(code: RDKafkaErrorCode, message: impl Into<String>) -> NativeError {
    NativeError {
        code,
        message: message.into(),
    }
}

/// Creates admin options for `op` with `timeout` as the request timeout.
fn admin_options<C: ClientContext>(
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
    let mut errstr = [0 as c_char; 512];
    // SAFETY: options is valid; errstr is a writable buffer of the given size.
    let err = unsafe {
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options.0,
            timeout_ms(timeout),
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        // SAFETY: librdkafka NUL-terminates errstr on error.
        let message = unsafe { CStr::from_ptr(errstr.as_ptr()) }.to_string_lossy();
        return Err(local_error(err.into(), message.into_owned()));
    }
    Ok(options)
}

fn new_queue<C: ClientContext>(client: &Client<C>) -> Result<Queue, NativeError> {
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
fn wait_result(queue: &Queue, timeout: Duration) -> Result<Event, NativeError> {
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
unsafe fn cstr_or_empty(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// Lists offsets for `partitions` (which must not repeat) in one request.
pub fn list_offsets<C: ClientContext>(
    client: &Client<C>,
    partitions: &[(String, i32)],
    spec: OffsetSpec,
    timeout: Duration,
) -> Result<Vec<ListedOffset>, NativeError> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let size = i32::try_from(partitions.len()).unwrap_or(i32::MAX);
    // SAFETY: creates an empty list that the guard owns.
    let list = PartitionList(unsafe { rd::rd_kafka_topic_partition_list_new(size) });
    for (topic, partition) in partitions {
        let topic_c = CString::new(topic.as_str()).map_err(|_| {
            local_error(RDKafkaErrorCode::InvalidArgument, "topic name contains NUL")
        })?;
        // SAFETY: list is valid; librdkafka copies the topic name; the
        // returned element is owned by the list and written before any
        // other call touches the list.
        unsafe {
            let elem = rd::rd_kafka_topic_partition_list_add(list.0, topic_c.as_ptr(), *partition);
            (*elem).offset = spec.raw();
        }
    }
    let options = admin_options(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTOFFSETS,
        timeout,
    )?;
    let queue = new_queue(client)?;
    // SAFETY: all handles are valid; librdkafka copies the list.
    unsafe { rd::rd_kafka_ListOffsets(client.native_ptr(), list.0, options.0, queue.0) };
    let event = wait_result(&queue, timeout)?;
    // SAFETY: the result and its infos live as long as the event.
    unsafe {
        let result = rd::rd_kafka_event_ListOffsets_result(event.0);
        if result.is_null() {
            return Err(local_error(
                RDKafkaErrorCode::Fail,
                "unexpected result type",
            ));
        }
        let mut count = 0usize;
        let infos = rd::rd_kafka_ListOffsets_result_infos(result, &mut count);
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let tp = rd::rd_kafka_ListOffsetsResultInfo_topic_partition(*infos.add(i));
            let err = (*tp).err;
            let result = if err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                Ok((*tp).offset)
            } else {
                Err(err.into())
            };
            out.push(ListedOffset {
                topic: cstr_or_empty((*tp).topic),
                partition: (*tp).partition,
                result,
            });
        }
        Ok(out)
    }
}

/// Topic ids by topic name, in Kafka's printed form. Topics the broker did
/// not describe, or described without an id, are absent.
pub fn topic_ids<C: ClientContext>(
    client: &Client<C>,
    topics: &[&str],
    timeout: Duration,
) -> Result<HashMap<String, String>, NativeError> {
    let names: Vec<CString> = topics
        .iter()
        .filter_map(|t| CString::new(*t).ok())
        .collect();
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let mut pointers: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    // SAFETY: pointers are valid C strings that librdkafka copies.
    let collection = TopicCollection(unsafe {
        rd::rd_kafka_TopicCollection_of_topic_names(pointers.as_mut_ptr(), pointers.len())
    });
    let options = admin_options(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
        timeout,
    )?;
    let queue = new_queue(client)?;
    // SAFETY: all handles are valid for the call.
    unsafe { rd::rd_kafka_DescribeTopics(client.native_ptr(), collection.0, options.0, queue.0) };
    let event = wait_result(&queue, timeout)?;
    let mut ids = HashMap::new();
    // SAFETY: the result and its descriptions live as long as the event.
    unsafe {
        let result = rd::rd_kafka_event_DescribeTopics_result(event.0);
        if result.is_null() {
            return Err(local_error(
                RDKafkaErrorCode::Fail,
                "unexpected result type",
            ));
        }
        let mut count = 0usize;
        let descriptions = rd::rd_kafka_DescribeTopics_result_topics(result, &mut count);
        for i in 0..count {
            let description = *descriptions.add(i);
            let error = rd::rd_kafka_TopicDescription_error(description);
            if !error.is_null()
                && rd::rd_kafka_error_code(error)
                    != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            {
                continue;
            }
            let uuid = rd::rd_kafka_TopicDescription_topic_id(description);
            if uuid.is_null() {
                continue;
            }
            let msb = rd::rd_kafka_Uuid_most_significant_bits(uuid);
            let lsb = rd::rd_kafka_Uuid_least_significant_bits(uuid);
            if let Some(id) = kafka_uuid_string(msb, lsb) {
                let name = cstr_or_empty(rd::rd_kafka_TopicDescription_name(description));
                ids.insert(name, id);
            }
        }
    }
    drop(pointers);
    Ok(ids)
}

/// Queued events inspected when looking for a connection failure; a client
/// that failed for a few seconds has a handful.
const DRAINED_EVENTS_MAX: usize = 1000;

/// The most recent connection failure librdkafka queued for `client` (a
/// `FAIL` log line or an error event), taking those events off its queues.
/// Only for use when the command is about to fail anyway: it also discards
/// any other queued events.
pub fn pending_connection_error<C: ClientContext>(client: &Client<C>) -> Option<String> {
    let rk = client.native_ptr();
    let mut found: Option<String> = None;
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
        for _ in 0..DRAINED_EVENTS_MAX {
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
                        if rd::rd_kafka_event_log(event.0, &mut fac, &mut text, &mut level) == 0
                            && matches!(cstr_or_empty(fac).as_str(), "FAIL" | "ERROR")
                        {
                            found = Some(strip_thread_prefix(&cstr_or_empty(text)).to_string());
                        }
                    }
                    rd::RD_KAFKA_EVENT_ERROR => {
                        let code: RDKafkaErrorCode = rd::rd_kafka_event_error(event.0).into();
                        // "1/1 brokers are down" follows the error that
                        // explains it; keep the explanation.
                        if code != RDKafkaErrorCode::AllBrokersDown || found.is_none() {
                            found = Some(cstr_or_empty(rd::rd_kafka_event_error_string(event.0)));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    found
}

/// librdkafka log lines start with "[thrd:...]: "; a person needs the rest.
pub fn strip_thread_prefix(message: &str) -> &str {
    match message.strip_prefix("[thrd:") {
        Some(rest) => rest.split_once("]: ").map_or(message, |(_, m)| m),
        None => message,
    }
}

/// Kafka prints a `Uuid` as URL-safe base64 of its 16 bytes, without
/// padding (22 characters). The zero id means "no id" and prints nothing.
pub fn kafka_uuid_string(most_significant: i64, least_significant: i64) -> Option<String> {
    if most_significant == 0 && least_significant == 0 {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&most_significant.to_be_bytes());
    bytes[8..].copy_from_slice(&least_significant.to_be_bytes());
    Some(base64_url_no_pad(&bytes))
}

fn base64_url_no_pad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
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

    #[test]
    fn zero_uuid_has_no_string() {
        assert_eq!(kafka_uuid_string(0, 0), None);
    }

    #[test]
    fn uuid_prints_like_kafka() {
        // Kafka: new Uuid(1, 2).toString() == "AAAAAAAAAAEAAAAAAAAAAg"
        assert_eq!(kafka_uuid_string(1, 2).unwrap(), "AAAAAAAAAAEAAAAAAAAAAg");
        // All bits set uses the URL-safe alphabet: "_____________________w"
        assert_eq!(
            kafka_uuid_string(-1, -1).unwrap(),
            format!("{}w", "_".repeat(21))
        );
    }

    #[test]
    fn offset_specs_use_kafka_wire_values() {
        assert_eq!(OffsetSpec::Latest.raw(), -1);
        assert_eq!(OffsetSpec::Earliest.raw(), -2);
        assert_eq!(OffsetSpec::MaxTimestamp.raw(), -3);
        assert_eq!(
            OffsetSpec::Timestamp(1_700_000_000_000).raw(),
            1_700_000_000_000
        );
    }
}
