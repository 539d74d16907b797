//! Fetch: stored batches from offsets, with long polling
//! (`max_wait_ms`/`min_bytes`), response and partition byte limits,
//! incremental fetch sessions (KIP-227) and isolation levels.
//!
//! The batches are never read here: the log names them as file slices,
//! the response carries placeholders for them, and the connection sends
//! them from the segment files (see `gregor_protocol::splice` and
//! `connection.rs`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::select_all;
use gregor_log::{FileSlice, ReadError};
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_metadata::MetadataImage;
use gregor_protocol::kafka_protocol::messages::fetch_request::FetchRequest;
use gregor_protocol::kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, BrokerId, FetchResponse, ProducerId, TopicName,
};
use gregor_protocol::kafka_protocol::protocol::StrBytes;
use gregor_protocol::kafka_protocol::ResponseError;
use gregor_protocol::splice::records_placeholder;
use tokio::time::Instant;
use uuid::Uuid;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::fetch_session::{SessionError, SessionKey, SessionPartition};
use crate::partition::{Partition, PartitionError};

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::Fetch, 4, 18);

/// Fetch sessions exist from v7 on.
const SESSIONS_MIN_VERSION: i16 = 7;
/// Topic ids replace names from v13 on.
const TOPIC_IDS_MIN_VERSION: i16 = 13;
/// Longest long poll we honour, whatever the client asks.
const MAX_WAIT_MS_MAX: i32 = 30_000;
const READ_COMMITTED: i8 = 1;

/// The outcome of reading one partition.
struct PartitionRead {
    key: SessionKey,
    /// Kafka error code; 0 for none.
    error: i16,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
    /// The stored batches to send; `None` for a partition in error.
    records: Option<Vec<FileSlice>>,
    /// read_committed: transactions aborted in the range read.
    aborted: Vec<gregor_log::AbortedTxn>,
}

impl PartitionRead {
    fn bytes(&self) -> usize {
        self.records.iter().flatten().map(FileSlice::len).sum()
    }
}

/// A fetch response whose record sets are still in the segment files:
/// the `n`th records field holding the placeholder is `records[n]`.
pub struct FetchReply {
    pub response: FetchResponse,
    pub records: Vec<Vec<FileSlice>>,
}

impl FetchReply {
    fn error(code: ResponseError, session_id: i32) -> FetchReply {
        FetchReply {
            response: FetchResponse::default()
                .with_error_code(code.code())
                .with_session_id(session_id),
            records: Vec::new(),
        }
    }

    /// The byte length of each spliced record set, in order.
    pub fn record_lens(&self) -> Vec<usize> {
        self.records
            .iter()
            .map(|slices| slices.iter().map(FileSlice::len).sum())
            .collect()
    }
}

pub async fn handle(broker: &Arc<Broker>, ctx: &RequestContext, req: FetchRequest) -> FetchReply {
    let version = ctx.api_version;
    let image = broker.metadata.image();
    let requested = requested_partitions(&image, &req, version);
    let (session_id, incremental, partitions) = match open_session(broker, &req, version, requested)
    {
        Ok(s) => s,
        Err(code) => return FetchReply::error(code, req.session_id),
    };
    let denied = denied_topics(broker, ctx, &partitions);
    let hosted: Vec<Option<Arc<Partition>>> = partitions
        .iter()
        .map(|p| match denied.contains(&p.key.topic) {
            true => None,
            false => broker.replicas.get(&p.key.topic, p.key.partition),
        })
        .collect();
    let mut wakeups: Vec<_> = hosted.iter().flatten().map(|p| p.subscribe()).collect();
    let max_wait = Duration::from_millis(req.max_wait_ms.clamp(0, MAX_WAIT_MS_MAX) as u64);
    let deadline = Instant::now() + max_wait;
    let reads = loop {
        wakeups.iter_mut().for_each(|w| {
            w.borrow_and_update();
        });
        let reads = read_all(&image, &partitions, &hosted, &denied, &req, version);
        let bytes: usize = reads.iter().map(PartitionRead::bytes).sum();
        let errors = reads.iter().any(|r| r.error != 0);
        if bytes >= req.min_bytes.max(0) as usize
            || errors
            || wakeups.is_empty()
            || Instant::now() >= deadline
        {
            break reads;
        }
        let changed = select_all(wakeups.iter_mut().map(|w| Box::pin(w.changed())));
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            break read_all(&image, &partitions, &hosted, &denied, &req, version);
        }
    };
    let read_committed = req.isolation_level == READ_COMMITTED;
    build_response(
        broker,
        session_id,
        incremental,
        &partitions,
        reads,
        version,
        read_committed,
    )
}

/// The partitions named in the request, with topic names resolved from ids (v13+).
fn requested_partitions(
    image: &MetadataImage,
    req: &FetchRequest,
    version: i16,
) -> Vec<SessionPartition> {
    let mut out = Vec::new();
    for t in &req.topics {
        let (topic_id, topic) = resolve_topic(image, &t.topic, t.topic_id, version);
        for p in &t.partitions {
            let key = SessionKey {
                topic_id,
                topic: topic.clone(),
                partition: p.partition,
            };
            out.push(SessionPartition::new(
                key,
                p.fetch_offset,
                p.partition_max_bytes,
                p.current_leader_epoch,
            ));
        }
    }
    out
}

fn resolve_topic(
    image: &MetadataImage,
    name: &TopicName,
    id: Uuid,
    version: i16,
) -> (Uuid, String) {
    if version >= TOPIC_IDS_MIN_VERSION {
        let name = image
            .topic_by_id(&id)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        (id, name)
    } else {
        (Uuid::nil(), name.to_string())
    }
}

/// Resolves the session: returns (session id for the response, whether the
/// response is incremental, the partitions to read).
fn open_session(
    broker: &Broker,
    req: &FetchRequest,
    version: i16,
    requested: Vec<SessionPartition>,
) -> Result<(i32, bool, Vec<SessionPartition>), ResponseError> {
    if version < SESSIONS_MIN_VERSION {
        return Ok((0, false, requested));
    }
    let cache = &broker.fetch_sessions;
    match req.session_epoch {
        // FINAL_EPOCH: a sessionless full fetch, closing any named session.
        -1 => {
            if req.session_id != 0 {
                cache.remove(req.session_id);
            }
            Ok((0, false, requested))
        }
        // INITIAL_EPOCH: a full fetch that opens a new session.
        0 => {
            if req.session_id != 0 {
                cache.remove(req.session_id);
            }
            let id = cache.create(requested.clone());
            Ok((id, false, requested))
        }
        epoch => {
            let image = broker.metadata.image();
            let forgotten: Vec<SessionKey> = req
                .forgotten_topics_data
                .iter()
                .flat_map(|t| {
                    let (topic_id, topic) = resolve_topic(&image, &t.topic, t.topic_id, version);
                    t.partitions.iter().map(move |p| SessionKey {
                        topic_id,
                        topic: topic.clone(),
                        partition: *p,
                    })
                })
                .collect();
            match cache.update(req.session_id, epoch, requested, &forgotten) {
                Ok(parts) => Ok((req.session_id, true, parts)),
                Err(SessionError::NotFound) => Err(ResponseError::FetchSessionIdNotFound),
                Err(SessionError::InvalidEpoch) => Err(ResponseError::InvalidFetchSessionEpoch),
            }
        }
    }
}

fn read_all(
    image: &MetadataImage,
    partitions: &[SessionPartition],
    hosted: &[Option<Arc<Partition>>],
    denied: &HashSet<String>,
    req: &FetchRequest,
    version: i16,
) -> Vec<PartitionRead> {
    let mut response_bytes_left = req.max_bytes.max(0) as usize;
    let mut any_data = false;
    partitions
        .iter()
        .zip(hosted)
        .map(|(sp, hosted)| {
            if denied.contains(&sp.key.topic) {
                return failed(sp, ResponseError::TopicAuthorizationFailed);
            }
            let Some(partition) = hosted else {
                return unhosted(image, sp, version);
            };
            let limit = (sp.max_bytes.max(0) as usize).min(response_bytes_left);
            let read_committed = req.isolation_level == READ_COMMITTED;
            let read = read_partition(partition, sp, limit, !any_data, read_committed);
            let bytes = read.bytes();
            response_bytes_left = response_bytes_left.saturating_sub(bytes);
            any_data |= bytes > 0;
            read
        })
        .collect()
}

fn unhosted(image: &MetadataImage, sp: &SessionPartition, version: i16) -> PartitionRead {
    let topic_known = image.topic(&sp.key.topic).is_some();
    let error = if !topic_known && version >= TOPIC_IDS_MIN_VERSION {
        ResponseError::UnknownTopicId
    } else if topic_known
        && image
            .topic(&sp.key.topic)
            .is_some_and(|t| t.partitions.contains_key(&sp.key.partition))
    {
        ResponseError::NotLeaderOrFollower
    } else {
        ResponseError::UnknownTopicOrPartition
    };
    failed(sp, error)
}

fn failed(sp: &SessionPartition, error: ResponseError) -> PartitionRead {
    PartitionRead {
        key: sp.key.clone(),
        error: error.code(),
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        records: None,
        aborted: Vec::new(),
    }
}

/// Topics of the session the principal may not READ.
fn denied_topics(
    broker: &Broker,
    ctx: &RequestContext,
    partitions: &[SessionPartition],
) -> HashSet<String> {
    let topics: HashSet<&str> = partitions.iter().map(|p| p.key.topic.as_str()).collect();
    topics
        .into_iter()
        .filter(|t| !broker.authorize(ctx, AclOperation::Read, ResourceType::Topic, t))
        .map(str::to_string)
        .collect()
}

/// Maps partition failures on the fetch path to Kafka's codes.
fn fetch_error(e: &PartitionError) -> ResponseError {
    match e {
        PartitionError::Read(ReadError::OffsetOutOfRange { .. }) => ResponseError::OffsetOutOfRange,
        PartitionError::Gone => ResponseError::UnknownTopicOrPartition,
        _ => ResponseError::KafkaStorageError,
    }
}

fn read_partition(
    partition: &Partition,
    sp: &SessionPartition,
    limit: usize,
    min_one_batch: bool,
    read_committed: bool,
) -> PartitionRead {
    let mut out = PartitionRead {
        key: sp.key.clone(),
        error: 0,
        high_watermark: partition.high_watermark(),
        last_stable_offset: -1,
        log_start_offset: -1,
        records: None,
        aborted: Vec::new(),
    };
    let epoch = partition.leader_epoch();
    if sp.current_leader_epoch >= 0 && sp.current_leader_epoch != epoch {
        let error = if sp.current_leader_epoch > epoch {
            ResponseError::UnknownLeaderEpoch
        } else {
            ResponseError::FencedLeaderEpoch
        };
        out.error = error.code();
        out.log_start_offset = partition.log_start_offset().unwrap_or(-1);
        return out;
    }
    // One trip to the log: a poll at the high watermark (the idle case)
    // comes back empty from the same call that reads data.
    match partition.read_slices(sp.fetch_offset, limit, min_one_batch, read_committed) {
        Ok(read) => {
            out.high_watermark = read.high_watermark;
            out.last_stable_offset = read.last_stable_offset;
            out.log_start_offset = read.log_start_offset;
            out.records = Some(read.slices);
            out.aborted = read.aborted.unwrap_or_default();
        }
        Err(e) => {
            if let PartitionError::Read(ReadError::OffsetOutOfRange {
                log_start_offset, ..
            }) = &e
            {
                out.log_start_offset = *log_start_offset;
            }
            out.error = fetch_error(&e).code();
        }
    }
    out
}

/// The response's aborted-transactions entries: producer id and the first
/// offset of each aborted transaction the consumer may meet.
fn aborted_list(aborted: &[gregor_log::AbortedTxn]) -> Vec<AbortedTransaction> {
    aborted
        .iter()
        .map(|a| {
            AbortedTransaction::default()
                .with_producer_id(ProducerId(a.producer_id))
                .with_first_offset(a.first_offset)
        })
        .collect()
}

fn build_response(
    broker: &Broker,
    session_id: i32,
    incremental: bool,
    partitions: &[SessionPartition],
    reads: Vec<PartitionRead>,
    version: i16,
    read_committed: bool,
) -> FetchReply {
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    let mut sent = Vec::new();
    let mut records = Vec::new();
    for (sp, read) in partitions.iter().zip(reads) {
        let has_data = read.bytes() > 0;
        let changed = read.error != 0
            || read.high_watermark != sp.last_high_watermark
            || read.log_start_offset != sp.last_log_start_offset;
        if incremental && !has_data && !changed {
            continue;
        }
        sent.push((read.key.clone(), read.high_watermark, read.log_start_offset));
        let data = PartitionData::default()
            .with_partition_index(read.key.partition)
            .with_error_code(read.error)
            .with_high_watermark(read.high_watermark)
            .with_last_stable_offset(read.last_stable_offset)
            .with_log_start_offset(if version >= 5 {
                read.log_start_offset
            } else {
                -1
            })
            .with_aborted_transactions(read_committed.then(|| aborted_list(&read.aborted)))
            .with_preferred_read_replica(BrokerId(-1))
            .with_records(Some(if has_data {
                records.push(read.records.unwrap_or_default());
                records_placeholder()
            } else {
                Bytes::new()
            }));
        let same_topic = |t: &FetchableTopicResponse| {
            if version >= TOPIC_IDS_MIN_VERSION {
                t.topic_id == read.key.topic_id
            } else {
                t.topic.as_str() == read.key.topic
            }
        };
        match topics.last_mut() {
            Some(t) if same_topic(t) => t.partitions.push(data),
            _ => topics.push(
                FetchableTopicResponse::default()
                    .with_topic(TopicName(StrBytes::from_string(read.key.topic.clone())))
                    .with_topic_id(read.key.topic_id)
                    .with_partitions(vec![data]),
            ),
        }
    }
    if session_id != 0 {
        broker.fetch_sessions.record_sent(session_id, &sent);
    }
    FetchReply {
        response: FetchResponse::default()
            .with_session_id(session_id)
            .with_responses(topics),
        records,
    }
}
