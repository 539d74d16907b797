//! DeleteConsumerGroupOffsets (Kafka's OffsetDelete) through librdkafka's
//! admin API: the `rdkafka` crate does not wrap it.

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
guard!(
    DeleteOffsets,
    rd::rd_kafka_DeleteConsumerGroupOffsets_t,
    rd::rd_kafka_DeleteConsumerGroupOffsets_destroy
);

/// One partition's answer to an offset deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedOffset {
    pub topic: String,
    pub partition: i32,
    pub result: Result<(), RDKafkaErrorCode>,
}

/// Deletes `group`'s committed offsets of `partitions`. A group-level
/// refusal (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, ...) is the `Err`.
pub fn delete_group_offsets<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> Result<Vec<DeletedOffset>, NativeError> {
    let nul = |what| {
        local_error(
            RDKafkaErrorCode::InvalidArgument,
            format!("{what} contains NUL"),
        )
    };
    let group_c = CString::new(group).map_err(|_| nul("group id"))?;
    let size = i32::try_from(partitions.len()).unwrap_or(i32::MAX);
    // SAFETY: creates an empty list that the guard owns.
    let list = PartitionList(unsafe { rd::rd_kafka_topic_partition_list_new(size) });
    for (topic, partition) in partitions {
        let topic_c = CString::new(topic.as_str()).map_err(|_| nul("topic name"))?;
        // SAFETY: list is valid; librdkafka copies the topic name.
        unsafe { rd::rd_kafka_topic_partition_list_add(list.0, topic_c.as_ptr(), *partition) };
    }
    // SAFETY: both arguments are valid; librdkafka copies them.
    let request = DeleteOffsets(unsafe {
        rd::rd_kafka_DeleteConsumerGroupOffsets_new(group_c.as_ptr(), list.0)
    });
    let options = admin_options(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS,
        timeout,
    )?;
    let queue = new_queue(client)?;
    let mut requests = [request.0];
    // SAFETY: all handles are valid; librdkafka copies the request.
    unsafe {
        rd::rd_kafka_DeleteConsumerGroupOffsets(
            client.native_ptr(),
            requests.as_mut_ptr(),
            1,
            options.0,
            queue.0,
        )
    };
    let event = wait_result(&queue, timeout)?;
    // SAFETY: the result, its groups and their partitions live as long as
    // the event.
    unsafe {
        let result = rd::rd_kafka_event_DeleteConsumerGroupOffsets_result(event.0);
        if result.is_null() {
            return Err(local_error(
                RDKafkaErrorCode::Fail,
                "unexpected result type",
            ));
        }
        let mut count = 0usize;
        let groups = rd::rd_kafka_DeleteConsumerGroupOffsets_result_groups(result, &mut count);
        if count == 0 {
            return Err(local_error(
                RDKafkaErrorCode::Fail,
                "no result for the group",
            ));
        }
        let group_result = *groups;
        let error = rd::rd_kafka_group_result_error(group_result);
        if !error.is_null() {
            let code = rd::rd_kafka_error_code(error);
            let message = cstr_or_empty(rd::rd_kafka_error_string(error));
            return Err(local_error(code.into(), message));
        }
        let parts = rd::rd_kafka_group_result_partitions(group_result);
        let mut out = Vec::new();
        if !parts.is_null() {
            for i in 0..usize::try_from((*parts).cnt).unwrap_or(0) {
                let tp = (*parts).elems.add(i);
                let err = (*tp).err;
                let result = if err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                    Ok(())
                } else {
                    Err(err.into())
                };
                out.push(DeletedOffset {
                    topic: cstr_or_empty((*tp).topic),
                    partition: (*tp).partition,
                    result,
                });
            }
        }
        Ok(out)
    }
}

/// A group as ListGroups + DescribeGroups report it (librdkafka's
/// `rd_kafka_list_groups`), copied out of librdkafka's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub name: String,
    /// The group's own error (GROUP_ID_NOT_FOUND, COORDINATOR_NOT_AVAILABLE, ...).
    pub error: Option<RDKafkaErrorCode>,
    /// Kafka's state name: Empty, Stable, ..., Dead for an unknown group.
    pub state: String,
    pub protocol_type: String,
    /// The chosen assignor (range, roundrobin, ...).
    pub protocol: String,
    /// The coordinator: `host:port (id)`, as Kafka's tool prints it.
    pub coordinator: String,
    pub members: Vec<MemberDescription>,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Vec<u8>,
    pub assignment: Vec<u8>,
}

guard!(GroupList, rd::rd_kafka_group_list, group_list_destroy);

/// # Safety
/// `list` came from `rd_kafka_list_groups` and is destroyed once.
unsafe fn group_list_destroy(list: *mut rd::rd_kafka_group_list) {
    rd::rd_kafka_group_list_destroy(list);
}

/// Lists (and describes) one group, or every group of the cluster.
pub fn list_groups<C: ClientContext>(
    client: &Client<C>,
    group: Option<&str>,
    timeout: Duration,
) -> Result<Vec<GroupDescription>, NativeError> {
    let group_c = group
        .map(CString::new)
        .transpose()
        .map_err(|_| local_error(RDKafkaErrorCode::InvalidArgument, "group id contains NUL"))?;
    let mut list_ptr: *const rd::rd_kafka_group_list = std::ptr::null();
    // SAFETY: the client is valid; the group string outlives the call;
    // librdkafka writes an owned list into `list_ptr` on success.
    let err = unsafe {
        rd::rd_kafka_list_groups(
            client.native_ptr(),
            group_c.as_ref().map_or(std::ptr::null(), |g| g.as_ptr()),
            &mut list_ptr,
            super::timeout_ms(timeout),
        )
    };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Err(local_error(err.into(), ""));
    }
    let list = GroupList(list_ptr as *mut _);
    if list.0.is_null() {
        return Ok(Vec::new());
    }
    // SAFETY: the list and everything it points to live until `list` drops;
    // counts and sizes come from librdkafka alongside their arrays.
    unsafe {
        let count = usize::try_from((*list.0).group_cnt).unwrap_or(0);
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let g = &*(*list.0).groups.add(i);
            let members = (0..usize::try_from(g.member_cnt).unwrap_or(0))
                .map(|j| {
                    let m = &*g.members.add(j);
                    MemberDescription {
                        member_id: cstr_or_empty(m.member_id),
                        client_id: cstr_or_empty(m.client_id),
                        client_host: cstr_or_empty(m.client_host),
                        metadata: raw_bytes(m.member_metadata, m.member_metadata_size),
                        assignment: raw_bytes(m.member_assignment, m.member_assignment_size),
                    }
                })
                .collect();
            let error = (g.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR)
                .then(|| g.err.into());
            out.push(GroupDescription {
                name: cstr_or_empty(g.group),
                error,
                state: cstr_or_empty(g.state),
                protocol_type: cstr_or_empty(g.protocol_type),
                protocol: cstr_or_empty(g.protocol),
                coordinator: format!(
                    "{}:{} ({})",
                    cstr_or_empty(g.broker.host),
                    g.broker.port,
                    g.broker.id
                ),
                members,
            });
        }
        Ok(out)
    }
}

/// # Safety
/// `ptr` is null or points to `size` readable bytes.
unsafe fn raw_bytes(ptr: *mut std::os::raw::c_void, size: std::os::raw::c_int) -> Vec<u8> {
    let len = usize::try_from(size).unwrap_or(0);
    if ptr.is_null() || len == 0 {
        return Vec::new();
    }
    std::slice::from_raw_parts(ptr as *const u8, len).to_vec()
}

/// A group as ListGroups (v5: with its type) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub name: String,
    /// Kafka's state name (Empty, Stable, ...).
    pub state: String,
    /// `classic` or `consumer`, lower case as `--type` takes it.
    pub group_type: String,
}

/// Lists every group of the cluster with its state and type, through
/// librdkafka's ListConsumerGroups (ListGroups to every broker).
pub fn list_group_listings<C: ClientContext>(
    client: &Client<C>,
    timeout: Duration,
) -> Result<Vec<GroupListing>, NativeError> {
    let options = admin_options(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS,
        timeout,
    )?;
    let queue = new_queue(client)?;
    // SAFETY: all handles are valid for the call.
    unsafe { rd::rd_kafka_ListConsumerGroups(client.native_ptr(), options.0, queue.0) };
    let event = wait_result(&queue, timeout)?;
    // SAFETY: the result and its listings live as long as the event; the
    // name strings librdkafka returns for states and types are static.
    unsafe {
        let result = rd::rd_kafka_event_ListConsumerGroups_result(event.0);
        if result.is_null() {
            return Err(local_error(
                RDKafkaErrorCode::Fail,
                "unexpected result type",
            ));
        }
        let mut errors = 0usize;
        let errs = rd::rd_kafka_ListConsumerGroups_result_errors(result, &mut errors);
        if errors > 0 {
            let error = *errs;
            let code = rd::rd_kafka_error_code(error);
            let message = cstr_or_empty(rd::rd_kafka_error_string(error));
            return Err(local_error(code.into(), message));
        }
        let mut count = 0usize;
        let valid = rd::rd_kafka_ListConsumerGroups_result_valid(result, &mut count);
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let listing = *valid.add(i);
            let state = rd::rd_kafka_ConsumerGroupListing_state(listing);
            let group_type = rd::rd_kafka_ConsumerGroupListing_type(listing);
            out.push(GroupListing {
                name: cstr_or_empty(rd::rd_kafka_ConsumerGroupListing_group_id(listing)),
                state: cstr_or_empty(rd::rd_kafka_consumer_group_state_name(state)),
                group_type: cstr_or_empty(rd::rd_kafka_consumer_group_type_name(group_type))
                    .to_lowercase(),
            });
        }
        Ok(out)
    }
}
