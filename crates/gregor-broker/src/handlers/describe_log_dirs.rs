//! DescribeLogDirs: the log directory, its partitions and their sizes
//! (DESCRIBE on the cluster, as Kafka authorizes it).

use std::collections::BTreeMap;
use std::sync::Arc;

use gregor_protocol::kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, DescribeLogDirsRequest, DescribeLogDirsResponse,
};

use gregor_metadata::acl::AclOperation;
use gregor_protocol::kafka_protocol::ResponseError;

use super::{text, topic_name, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DescribeLogDirs, 1, 4);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let version = ctx.api_version;
    // As Kafka: without DESCRIBE on the cluster, no directories, and from
    // v3 on the top-level CLUSTER_AUTHORIZATION_FAILED.
    if !broker.authorize_cluster(ctx, AclOperation::Describe) {
        let resp = DescribeLogDirsResponse::default();
        return if version >= 3 {
            resp.with_error_code(ResponseError::ClusterAuthorizationFailed.code())
        } else {
            resp
        };
    }
    let wanted = |topic: &str, partition: i32| match &req.topics {
        None => true,
        Some(list) => list
            .iter()
            .any(|t| t.topic.as_str() == topic && t.partitions.contains(&partition)),
    };
    let mut by_topic: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    for p in broker.replicas.all() {
        if !wanted(&p.topic, p.index) {
            continue;
        }
        let Ok(size) = p.with_log(|log| log.size_bytes()) else {
            continue;
        };
        by_topic.entry(p.topic.clone()).or_default().push(
            DescribeLogDirsPartition::default()
                .with_partition_index(p.index)
                .with_partition_size(size as i64),
        );
    }
    let topics = by_topic
        .into_iter()
        .map(|(name, mut parts)| {
            parts.sort_by_key(|p| p.partition_index);
            DescribeLogDirsTopic::default()
                .with_name(topic_name(&name))
                .with_partitions(parts)
        })
        .collect();
    // Disk totals are part of the response from v4 on.
    let (total, usable) = if version >= 4 {
        disk_space(broker.log_dir())
    } else {
        (-1, -1)
    };
    let dir =
        std::fs::canonicalize(broker.log_dir()).unwrap_or_else(|_| broker.log_dir().to_path_buf());
    let result = DescribeLogDirsResult::default()
        .with_log_dir(text(&dir.display().to_string()))
        .with_topics(topics)
        .with_total_bytes(total)
        .with_usable_bytes(usable);
    DescribeLogDirsResponse::default().with_results(vec![result])
}

/// Total and usable bytes of the file system holding `dir`, or -1 if unknown.
fn disk_space(dir: &std::path::Path) -> (i64, i64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return (-1, -1);
    };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `st` a writable statvfs.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return (-1, -1);
    }
    let frsize = st.f_frsize as i64;
    (st.f_blocks as i64 * frsize, st.f_bavail as i64 * frsize)
}
