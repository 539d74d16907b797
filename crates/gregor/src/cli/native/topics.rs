//! Topic admin requests through librdkafka's admin API: create, delete and
//! add partitions with the broker's error message kept, and DescribeTopics
//! for topic ids.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::raw::c_char;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::ClientContext;

use super::{
    admin_options, check, cstr_or_empty, errstr_text, guard, local_error, new_queue,
    set_operation_timeout, wait_result, NativeError, ERRSTR_BYTES,
};

guard!(
    TopicCollection,
    rd::rd_kafka_TopicCollection_t,
    rd::rd_kafka_TopicCollection_destroy
);
guard!(
    NewTopic,
    rd::rd_kafka_NewTopic_t,
    rd::rd_kafka_NewTopic_destroy
);
guard!(
    DeleteTopic,
    rd::rd_kafka_DeleteTopic_t,
    rd::rd_kafka_DeleteTopic_destroy
);
guard!(
    NewPartitions,
    rd::rd_kafka_NewPartitions_t,
    rd::rd_kafka_NewPartitions_destroy
);

/// A topic to create, as CreateTopics takes it.
#[derive(Debug, Clone, Copy)]
pub struct NewTopicSpec<'a> {
    pub name: &'a str,
    /// -1 asks for the broker's num.partitions.
    pub partitions: i32,
    /// -1 asks for the broker's default.replication.factor.
    pub replication_factor: i32,
    /// Replica broker ids per partition; when not empty it decides both
    /// counts above.
    pub assignment: &'a [Vec<i32>],
    pub configs: &'a [(String, String)],
}

/// The broker's answer for one topic: `Ok` or its error code and message
/// (empty when the broker gave none).
pub type TopicOutcome = Result<(), (RDKafkaErrorCode, String)>;

fn c_string(s: &str) -> Result<CString, NativeError> {
    CString::new(s).map_err(|_| {
        local_error(
            RDKafkaErrorCode::InvalidArgument,
            format!("'{s}' contains a NUL character"),
        )
    })
}

/// Creates one topic.
pub fn create_topic<C: ClientContext>(
    client: &Client<C>,
    spec: NewTopicSpec<'_>,
    timeout: Duration,
) -> Result<TopicOutcome, NativeError> {
    let name = c_string(spec.name)?;
    let (partitions, replication_factor) = match spec.assignment.len() {
        0 => (spec.partitions, spec.replication_factor),
        n => (i32::try_from(n).unwrap_or(i32::MAX), -1),
    };
    let mut errstr = [0 as c_char; ERRSTR_BYTES];
    // SAFETY: name is a valid C string; errstr is a writable buffer.
    let topic = NewTopic(unsafe {
        rd::rd_kafka_NewTopic_new(
            name.as_ptr(),
            partitions,
            replication_factor,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    });
    if topic.0.is_null() {
        return Err(local_error(
            RDKafkaErrorCode::InvalidArgument,
            errstr_text(&errstr),
        ));
    }
    for (partition, brokers) in spec.assignment.iter().enumerate() {
        let mut brokers = brokers.clone();
        // SAFETY: topic is valid; librdkafka copies the broker ids.
        let err = unsafe {
            rd::rd_kafka_NewTopic_set_replica_assignment(
                topic.0,
                i32::try_from(partition).unwrap_or(i32::MAX),
                brokers.as_mut_ptr(),
                brokers.len(),
                errstr.as_mut_ptr(),
                errstr.len(),
            )
        };
        check(err, &errstr)?;
    }
    for (key, value) in spec.configs {
        let (key_c, value_c) = (c_string(key)?, c_string(value)?);
        // SAFETY: topic is valid; librdkafka copies both strings.
        let err =
            unsafe { rd::rd_kafka_NewTopic_set_config(topic.0, key_c.as_ptr(), value_c.as_ptr()) };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(local_error(
                err.into(),
                format!("could not set config {key}={value}"),
            ));
        }
    }
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATETOPICS;
    let mut handles = [topic.0];
    run_topic_request(client, op, timeout, |options, queue| {
        // SAFETY: all handles are valid; librdkafka copies the topic specs.
        unsafe {
            rd::rd_kafka_CreateTopics(client.native_ptr(), handles.as_mut_ptr(), 1, options, queue);
        }
    })
}

/// Deletes one topic.
pub fn delete_topic<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<TopicOutcome, NativeError> {
    let name = c_string(topic)?;
    // SAFETY: name is a valid C string.
    let delete = DeleteTopic(unsafe { rd::rd_kafka_DeleteTopic_new(name.as_ptr()) });
    if delete.0.is_null() {
        return Err(local_error(
            RDKafkaErrorCode::InvalidArgument,
            "invalid topic name",
        ));
    }
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETETOPICS;
    let mut handles = [delete.0];
    run_topic_request(client, op, timeout, |options, queue| {
        // SAFETY: all handles are valid; librdkafka copies the request.
        unsafe {
            rd::rd_kafka_DeleteTopics(client.native_ptr(), handles.as_mut_ptr(), 1, options, queue);
        }
    })
}

/// Raises one topic's partition count to `total`.
pub fn create_partitions<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    total: usize,
    timeout: Duration,
) -> Result<TopicOutcome, NativeError> {
    let name = c_string(topic)?;
    let mut errstr = [0 as c_char; ERRSTR_BYTES];
    // SAFETY: name is a valid C string; errstr is a writable buffer.
    let request = NewPartitions(unsafe {
        rd::rd_kafka_NewPartitions_new(name.as_ptr(), total, errstr.as_mut_ptr(), errstr.len())
    });
    if request.0.is_null() {
        return Err(local_error(
            RDKafkaErrorCode::InvalidArgument,
            errstr_text(&errstr),
        ));
    }
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEPARTITIONS;
    let mut handles = [request.0];
    run_topic_request(client, op, timeout, |options, queue| {
        // SAFETY: all handles are valid; librdkafka copies the request.
        unsafe {
            rd::rd_kafka_CreatePartitions(
                client.native_ptr(),
                handles.as_mut_ptr(),
                1,
                options,
                queue,
            );
        }
    })
}

/// Sends one single-topic request with `send` and reads the topic's result.
/// The broker may take up to `timeout` to apply the change; the request as a
/// whole gets twice that.
fn run_topic_request<C: ClientContext>(
    client: &Client<C>,
    op: rd::rd_kafka_admin_op_t,
    timeout: Duration,
    send: impl FnOnce(*mut rd::rd_kafka_AdminOptions_t, *mut rd::rd_kafka_queue_t),
) -> Result<TopicOutcome, NativeError> {
    let request_timeout = timeout * 2;
    let options = admin_options(client, op, request_timeout)?;
    set_operation_timeout(&options, timeout)?;
    let queue = new_queue(client)?;
    send(options.0, queue.0);
    let event = wait_result(&queue, request_timeout)?;
    let mut count = 0usize;
    // SAFETY: the event is valid; each accessor returns null for a result
    // of another type, and the results live as long as the event.
    unsafe {
        let results = match op {
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATETOPICS => {
                let r = rd::rd_kafka_event_CreateTopics_result(event.0);
                (!r.is_null()).then(|| rd::rd_kafka_CreateTopics_result_topics(r, &mut count))
            }
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETETOPICS => {
                let r = rd::rd_kafka_event_DeleteTopics_result(event.0);
                (!r.is_null()).then(|| rd::rd_kafka_DeleteTopics_result_topics(r, &mut count))
            }
            _ => {
                let r = rd::rd_kafka_event_CreatePartitions_result(event.0);
                (!r.is_null()).then(|| rd::rd_kafka_CreatePartitions_result_topics(r, &mut count))
            }
        };
        let Some(results) = results.filter(|_| count > 0) else {
            return Err(local_error(
                RDKafkaErrorCode::Fail,
                "the broker returned no result for the topic",
            ));
        };
        let result = *results;
        let err = rd::rd_kafka_topic_result_error(result);
        if err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            Ok(Ok(()))
        } else {
            let message = cstr_or_empty(rd::rd_kafka_topic_result_error_string(result));
            Ok(Err((err.into(), message)))
        }
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
    fn zero_uuid_has_no_string() {
        assert_eq!(kafka_uuid_string(0, 0), None);
    }

    #[test]
    fn uuid_prints_like_kafka() {
        // Kafka: new Uuid(1, 2).toString() == "AAAAAAAAAAEAAAAAAAAAAg"
        assert_eq!(kafka_uuid_string(1, 2).unwrap(), "AAAAAAAAAAEAAAAAAAAAAg");
        // All bits set uses the URL-safe alphabet.
        assert_eq!(
            kafka_uuid_string(-1, -1).unwrap(),
            format!("{}w", "_".repeat(21))
        );
    }
}
