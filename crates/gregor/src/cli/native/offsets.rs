//! ListOffsets through librdkafka's admin API.

use std::ffi::CString;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::ClientContext;

use super::{
    admin_options, cstr_or_empty, guard, local_error, new_queue, wait_result, NativeError,
};

guard!(
    PartitionList,
    rd::rd_kafka_topic_partition_list_t,
    rd::rd_kafka_topic_partition_list_destroy
);

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

#[cfg(test)]
mod tests {
    use super::*;

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
