//! The consumer-group events of one shard: ConsumerGroupHeartbeat
//! (join, heartbeat, leave), ConsumerGroupDescribe and the timer tick.

use std::collections::BTreeMap;

use gregor_protocol::kafka_protocol::messages::consumer_group_describe_response::{
    self as describe, DescribedGroup,
};
use gregor_protocol::kafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment as HeartbeatAssignment, TopicPartitions,
};
use gregor_protocol::kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, GroupId, TopicName,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::assignor::Assignor;
use super::group::ConsumerGroup;
use super::member::{ConsumerMember, MemberState, SubscribedRegex};
use super::reconcile::reconcile;
use super::record::{group_records, SESSION_NOT_STARTED};
use super::{text, Assignment, Topics};
use crate::classic::ClassicGroup;
use crate::records::CoordinatorRecord;
use crate::shard::GroupCoordinatorShard;

/// The member epoch of a member leaving the group.
const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// The member epoch of a static member leaving for now (it may come back
/// under its instance id).
const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;
/// ConsumerGroupHeartbeat v1+: clients choose their member id.
const CLIENT_MEMBER_ID_MIN_VERSION: i16 = 1;
/// ConsumerGroupDescribe's member type of a consumer-protocol member.
const CONSUMER_MEMBER_TYPE: i8 = 1;

/// An error code and its message.
type Failure = (ResponseError, String);

/// A consumer group as it was before an event (see
/// [`GroupCoordinatorShard::undo_consumer_event`]).
#[derive(Debug, Clone)]
pub struct ConsumerUndo {
    group_id: String,
    existed: bool,
    before: Option<ConsumerGroup>,
}

/// What the coordinator needs besides the request.
#[derive(Debug, Clone, Copy)]
pub struct HeartbeatContext<'a> {
    pub api_version: i16,
    pub client_id: &'a str,
    /// As Kafka shows it: `/` and the IP address.
    pub client_host: &'a str,
    /// A fresh UUID: the member id a v0 client gets when it joins.
    pub fresh_member_id: &'a str,
    pub topics: &'a Topics,
    pub now_ms: i64,
    /// The group's own `consumer.session.timeout.ms` and
    /// `consumer.heartbeat.interval.ms` (group configs), when set; the
    /// coordinator's defaults apply otherwise.
    pub session_timeout_ms: Option<i32>,
    pub heartbeat_interval_ms: Option<i32>,
}

impl GroupCoordinatorShard {
    /// ConsumerGroupHeartbeat: joins (epoch 0), heartbeats (the member's
    /// epoch) or leaves (-1; -2 for a static member) a consumer group.
    pub fn consumer_group_heartbeat(
        &mut self,
        req: &ConsumerGroupHeartbeatRequest,
        cx: &HeartbeatContext<'_>,
    ) -> ConsumerGroupHeartbeatResponse {
        self.try_heartbeat(req, cx)
            .unwrap_or_else(|(code, message)| {
                ConsumerGroupHeartbeatResponse::default()
                    .with_error_code(code.code())
                    .with_error_message(Some(text(&message)))
            })
    }

    fn try_heartbeat(
        &mut self,
        req: &ConsumerGroupHeartbeatRequest,
        cx: &HeartbeatContext<'_>,
    ) -> Result<ConsumerGroupHeartbeatResponse, Failure> {
        let regex = validate(req, cx.api_version)?;
        let group_id = req.group_id.as_str().to_string();
        let config = self.config.consumer;
        let group = self.consumer_group_mut(&group_id, req.member_epoch == 0)?;
        if req.member_epoch < 0 {
            return leave(group, &group_id, req, cx.topics);
        }
        let requested_id = req.member_id.as_str();
        let member_id = if req.member_epoch == 0
            && requested_id.is_empty()
            && cx.api_version < CLIENT_MEMBER_ID_MIN_VERSION
        {
            cx.fresh_member_id.to_string()
        } else {
            requested_id.to_string()
        };
        let reported = req
            .topic_partitions
            .as_ref()
            .map(|tps| reported_assignment(tps, cx.topics));
        let mut changed = false;
        if req.member_epoch == 0 {
            changed |= admit(group, &member_id, req, config.max_size, cx.now_ms)?;
        } else {
            check_epoch(
                group,
                &group_id,
                &member_id,
                req.member_epoch,
                reported.as_ref(),
            )?;
        }
        let member = group.members.get_mut(&member_id).expect("admitted above");
        let before = (member.member_epoch, member.assigned.clone());
        changed |= update_member(member, req, regex, cx);
        member.session_deadline_ms = cx.now_ms.saturating_add(i64::from(
            cx.session_timeout_ms.unwrap_or(config.session_timeout_ms),
        ));
        group.update_target(&group_id, cx.topics, changed);
        let target = group.target.get(&member_id).cloned().unwrap_or_default();
        let owners = group.owned_by_others(&member_id);
        let epoch = group.assignment_epoch;
        let member = group.members.get_mut(&member_id).expect("admitted above");
        reconcile(
            member,
            &target,
            epoch,
            &owners,
            reported.as_ref(),
            cx.now_ms,
        );
        let full = req.member_epoch == 0
            || req.topic_partitions.is_some()
            || req.subscribed_topic_names.is_some();
        let moved = before != (member.member_epoch, member.assigned.clone())
            || req.member_epoch != member.member_epoch;
        let assignment = (full || moved).then(|| heartbeat_assignment(&member.assigned, cx.topics));
        Ok(ConsumerGroupHeartbeatResponse::default()
            .with_member_id(Some(text(&member_id)))
            .with_member_epoch(member.member_epoch)
            .with_heartbeat_interval_ms(
                cx.heartbeat_interval_ms
                    .unwrap_or(config.heartbeat_interval_ms),
            )
            .with_assignment(assignment))
    }

    /// The consumer group `group_id`, created (or converted from an empty
    /// classic group) when `create`. A classic group with members is not
    /// converted: Kafka's online upgrade of a live classic group is not
    /// built, so such a group answers GROUP_ID_NOT_FOUND, as Kafka does when
    /// `group.consumer.migration.policy` forbids the upgrade.
    fn consumer_group_mut(
        &mut self,
        group_id: &str,
        create: bool,
    ) -> Result<&mut ConsumerGroup, Failure> {
        let not_found = || {
            (
                ResponseError::GroupIdNotFound,
                format!("Group {group_id} not found."),
            )
        };
        if !create && !self.groups.contains_key(group_id) {
            return Err(not_found());
        }
        let group = self.groups.entry(group_id.to_string()).or_default();
        if group.consumer.is_none() {
            if !group.classic.is_empty() {
                return Err((
                    ResponseError::GroupIdNotFound,
                    format!("Group {group_id} is not a consumer group."),
                ));
            }
            if !create {
                return Err(not_found());
            }
            group.classic = ClassicGroup::default();
            group.consumer = Some(ConsumerGroup::default());
        }
        Ok(group.consumer.as_mut().expect("set above"))
    }

    /// ConsumerGroupDescribe for the groups of this shard.
    pub fn consumer_group_describe<'a>(
        &self,
        group_ids: impl IntoIterator<Item = &'a str>,
        topics: &Topics,
    ) -> Vec<DescribedGroup> {
        group_ids
            .into_iter()
            .map(
                |id| match self.groups.get(id).map(|g| g.consumer.as_ref()) {
                    Some(Some(g)) => describe_group(id, g, topics),
                    found => {
                        let message = match found {
                            Some(None) => format!("Group {id} is not a consumer group."),
                            _ => format!("Group {id} not found."),
                        };
                        DescribedGroup::default()
                            .with_group_id(GroupId(text(id)))
                            .with_group_state(text("Dead"))
                            .with_error_code(ResponseError::GroupIdNotFound.code())
                            .with_error_message(Some(text(&message)))
                    }
                },
            )
            .collect()
    }

    /// Fences consumer-group members whose session or revocation timeout
    /// passed at `now_ms`; returns the records of the changes, to write
    /// (not apply: the change is already in memory). Members loaded from
    /// the log start their session (and pending revocation) here.
    pub fn tick_consumer_groups(&mut self, now_ms: i64) -> Vec<CoordinatorRecord> {
        let session_ms = i64::from(self.config.consumer.session_timeout_ms);
        let mut records = Vec::new();
        for (group_id, group) in &mut self.groups {
            if let Some(g) = group.consumer.as_mut() {
                start_loaded_sessions(g, now_ms, session_ms);
                if g.next_deadline_ms().is_some_and(|d| d <= now_ms) {
                    let before = g.clone();
                    g.expire(group_id, now_ms);
                    records.extend(group_records(
                        group_id,
                        Some(&before),
                        Some(g),
                        &self.topics,
                    ));
                }
            }
        }
        records
    }

    /// ConsumerGroupHeartbeat as an event: the response, the records of
    /// what it changed, to write (not apply) before answering, and the
    /// group as it was, for [`Self::undo_consumer_event`] if they could not
    /// be written.
    pub fn consumer_group_heartbeat_event(
        &mut self,
        req: &ConsumerGroupHeartbeatRequest,
        cx: &HeartbeatContext<'_>,
    ) -> (
        ConsumerGroupHeartbeatResponse,
        Vec<CoordinatorRecord>,
        ConsumerUndo,
    ) {
        if &self.topics != cx.topics {
            self.topics = cx.topics.clone();
        }
        let group_id = req.group_id.as_str();
        let undo = ConsumerUndo {
            group_id: group_id.to_string(),
            existed: self.groups.contains_key(group_id),
            before: self.groups.get(group_id).and_then(|g| g.consumer.clone()),
        };
        let response = self.consumer_group_heartbeat(req, cx);
        let after = self.groups.get(group_id).and_then(|g| g.consumer.as_ref());
        let records = group_records(group_id, undo.before.as_ref(), after, cx.topics);
        (response, records, undo)
    }

    /// Puts a consumer group back as it was before an event whose records
    /// could not be written, as Kafka reverts its in-memory state then.
    pub fn undo_consumer_event(&mut self, undo: ConsumerUndo) {
        let ConsumerUndo {
            group_id,
            existed,
            before,
        } = undo;
        if !existed {
            self.groups.remove(&group_id);
        } else if let Some(g) = self.groups.get_mut(&group_id) {
            // An empty classic group the event converted stays converted
            // (empty either way).
            g.consumer = before;
        }
    }
}

/// Members replayed from the log have not heartbeated since: their session
/// (and a revocation they owe) counts from the first tick after the load.
fn start_loaded_sessions(g: &mut ConsumerGroup, now_ms: i64, session_ms: i64) {
    for m in g.members.values_mut() {
        if m.session_deadline_ms == SESSION_NOT_STARTED {
            m.session_deadline_ms = now_ms.saturating_add(session_ms);
            if !m.revoking.is_empty() && m.revocation_deadline_ms.is_none() {
                m.revocation_deadline_ms =
                    Some(now_ms.saturating_add(i64::from(m.rebalance_timeout_ms)));
            }
        }
    }
}

/// Kafka's request checks, before the group is looked at. Returns the
/// regex update: `None` keeps it, `Some(None)` clears it.
fn validate(
    req: &ConsumerGroupHeartbeatRequest,
    api_version: i16,
) -> Result<Option<Option<SubscribedRegex>>, Failure> {
    let invalid = |m: &str| Err((ResponseError::InvalidRequest, m.to_string()));
    let epoch = req.member_epoch;
    if req.group_id.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if req.instance_id.as_ref().is_some_and(|s| s.is_empty()) {
        return invalid("InstanceId can't be empty.");
    }
    if req.rack_id.as_ref().is_some_and(|s| s.is_empty()) {
        return invalid("RackId can't be empty.");
    }
    if req.member_id.is_empty() && (api_version >= CLIENT_MEMBER_ID_MIN_VERSION || epoch != 0) {
        return invalid("MemberId can't be empty.");
    }
    if epoch == 0 {
        if req.rebalance_timeout_ms == -1 {
            return invalid("RebalanceTimeoutMs must be provided in first request.");
        }
        if req.topic_partitions.as_ref().is_some_and(|t| !t.is_empty()) {
            return invalid("TopicPartitions must be empty when (re-)joining.");
        }
        if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
            return invalid(
                "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
            );
        }
    } else if epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH && req.instance_id.is_none() {
        return invalid("InstanceId can't be null.");
    } else if epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH {
        return invalid(&format!("MemberEpoch {epoch} is invalid."));
    }
    if let Some(name) = &req.server_assignor {
        if Assignor::from_name(name).is_none() {
            return Err((
                ResponseError::UnsupportedAssignor,
                format!(
                    "ServerAssignor {name} is not supported. Supported assignors: uniform, range."
                ),
            ));
        }
    }
    match req.subscribed_topic_regex.as_deref() {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(pattern) => SubscribedRegex::compile(pattern)
            .map(|r| Some(Some(r)))
            .map_err(|e| {
                (
                    ResponseError::InvalidRegularExpression,
                    format!(
                        "SubscribedTopicRegex {pattern} is not a valid regular expression: {e}"
                    ),
                )
            }),
    }
}

/// Admits a joining member (epoch 0). Returns whether the group changed.
fn admit(
    group: &mut ConsumerGroup,
    member_id: &str,
    req: &ConsumerGroupHeartbeatRequest,
    max_size: i32,
    now_ms: i64,
) -> Result<bool, Failure> {
    if let Some(instance) = req.instance_id.as_deref() {
        let other = group
            .members
            .values()
            .find(|m| m.member_id != member_id && m.instance_id.as_deref() == Some(instance))
            .map(|m| (m.member_id.clone(), m.member_epoch));
        match other {
            Some((_, epoch)) if epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH => {
                return Err((
                    ResponseError::UnreleasedInstanceId,
                    format!("Static member with instance id {instance} is still in the group."),
                ));
            }
            // A static member that left with -2 comes back under a new
            // member id: it takes over its predecessor's assignment and
            // epoch, and the group does not rebalance.
            Some((old_id, _)) => {
                let mut m = group.members.remove(&old_id).expect("found above");
                m.member_id = member_id.to_string();
                m.member_epoch = m.previous_member_epoch;
                m.session_deadline_ms = now_ms;
                group.members.insert(member_id.to_string(), m);
                if let Some(t) = group.target.remove(&old_id) {
                    group.target.insert(member_id.to_string(), t);
                }
                return Ok(false);
            }
            None => {}
        }
    }
    if let Some(m) = group.members.get_mut(member_id) {
        // A member that lost its state rejoins: it owns nothing now.
        m.assigned.clear();
        m.revoking.clear();
        m.member_epoch = 0;
        m.state = MemberState::Stable;
        m.revocation_deadline_ms = None;
        return Ok(false);
    }
    let max = usize::try_from(max_size).unwrap_or(0);
    if group.members.len() >= max {
        return Err((
            ResponseError::GroupMaxSizeReached,
            format!("The consumer group has reached its maximum capacity of {max_size} members."),
        ));
    }
    let member = ConsumerMember::new(member_id.to_string(), now_ms);
    group.members.insert(member_id.to_string(), member);
    Ok(true)
}

/// Kafka's member-epoch check of a heartbeat: a newer epoch than the
/// member's is fenced; an older one only if it is the previous epoch and
/// the member owns no more than it is assigned now.
fn check_epoch(
    group: &ConsumerGroup,
    group_id: &str,
    member_id: &str,
    epoch: i32,
    reported: Option<&Assignment>,
) -> Result<(), Failure> {
    let member = group.members.get(member_id).ok_or_else(|| {
        (
            ResponseError::UnknownMemberId,
            format!("Member {member_id} is not a member of group {group_id}."),
        )
    })?;
    let fenced = || {
        Err((
            ResponseError::FencedMemberEpoch,
            format!(
                "The consumer group member has a member epoch ({epoch}) that does not match \
                 the expected one ({}).",
                member.member_epoch
            ),
        ))
    };
    if epoch > member.member_epoch {
        return fenced();
    }
    if epoch < member.member_epoch {
        let subset = reported.is_some_and(|r| super::minus(r, &member.assigned).is_empty());
        if epoch != member.previous_member_epoch || !subset {
            return fenced();
        }
    }
    Ok(())
}

/// Applies the request's member fields. Returns whether the subscription
/// or assignor changed (which bumps the group epoch).
fn update_member(
    member: &mut ConsumerMember,
    req: &ConsumerGroupHeartbeatRequest,
    regex: Option<Option<SubscribedRegex>>,
    cx: &HeartbeatContext<'_>,
) -> bool {
    let mut changed = false;
    if let Some(names) = &req.subscribed_topic_names {
        let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        names.sort();
        names.dedup();
        changed |= names != member.subscribed_topic_names;
        member.subscribed_topic_names = names;
    }
    if let Some(regex) = regex {
        changed |= regex != member.subscribed_topic_regex;
        member.subscribed_topic_regex = regex;
    }
    if let Some(a) = req.server_assignor.as_deref() {
        changed |= member.server_assignor.as_deref() != Some(a);
        member.server_assignor = Some(a.to_string());
    }
    if req.rebalance_timeout_ms >= 0 {
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
    }
    if let Some(i) = req.instance_id.as_deref() {
        member.instance_id = Some(i.to_string());
    }
    if let Some(r) = req.rack_id.as_deref() {
        member.rack_id = Some(r.to_string());
    }
    member.client_id = cx.client_id.to_string();
    member.client_host = cx.client_host.to_string();
    changed
}

fn leave(
    group: &mut ConsumerGroup,
    group_id: &str,
    req: &ConsumerGroupHeartbeatRequest,
    topics: &Topics,
) -> Result<ConsumerGroupHeartbeatResponse, Failure> {
    let by_instance = |m: &&ConsumerMember| {
        req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH
            && m.instance_id.as_deref() == req.instance_id.as_deref()
    };
    let member_id = group
        .members
        .values()
        .find(|m| m.member_id == req.member_id.as_str() || by_instance(m))
        .map(|m| m.member_id.clone())
        .ok_or_else(|| {
            (
                ResponseError::UnknownMemberId,
                format!(
                    "Member {} is not a member of group {group_id}.",
                    req.member_id.as_str()
                ),
            )
        })?;
    let epoch = if req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
        // A static member leaves for now: it keeps its partitions until it
        // rejoins under its instance id or its session expires.
        let m = group.members.get_mut(&member_id).expect("found above");
        if m.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            m.previous_member_epoch = m.member_epoch;
            m.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
        }
        LEAVE_GROUP_STATIC_MEMBER_EPOCH
    } else {
        group.remove_member(&member_id);
        group.update_target(group_id, topics, true);
        LEAVE_GROUP_MEMBER_EPOCH
    };
    Ok(ConsumerGroupHeartbeatResponse::default()
        .with_member_id(Some(req.member_id.clone()))
        .with_member_epoch(epoch))
}

/// The request's owned partitions, by topic name (unknown ids dropped).
fn reported_assignment(
    tps: &[gregor_protocol::kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions],
    topics: &Topics,
) -> Assignment {
    let names: BTreeMap<uuid::Uuid, &String> = topics.iter().map(|(n, i)| (i.id, n)).collect();
    let mut out = Assignment::new();
    for tp in tps {
        if let Some(name) = names.get(&tp.topic_id) {
            out.entry((*name).clone())
                .or_default()
                .extend(tp.partitions.iter().copied());
        }
    }
    out
}

fn heartbeat_assignment(assigned: &Assignment, topics: &Topics) -> HeartbeatAssignment {
    let tps = assigned
        .iter()
        .filter_map(|(t, ps)| {
            topics.get(t).map(|info| {
                TopicPartitions::default()
                    .with_topic_id(info.id)
                    .with_partitions(ps.iter().copied().collect())
            })
        })
        .collect();
    HeartbeatAssignment::default().with_topic_partitions(tps)
}

fn describe_assignment(assigned: &Assignment, topics: &Topics) -> describe::Assignment {
    let tps = assigned
        .iter()
        .map(|(t, ps)| {
            describe::TopicPartitions::default()
                .with_topic_id(topics.get(t).map(|i| i.id).unwrap_or_default())
                .with_topic_name(TopicName(text(t)))
                .with_partitions(ps.iter().copied().collect())
        })
        .collect();
    describe::Assignment::default().with_topic_partitions(tps)
}

fn describe_group(id: &str, g: &ConsumerGroup, topics: &Topics) -> DescribedGroup {
    let members = g
        .members
        .values()
        .map(|m| {
            let target = g.target.get(&m.member_id).cloned().unwrap_or_default();
            describe::Member::default()
                .with_member_id(text(&m.member_id))
                .with_instance_id(m.instance_id.as_deref().map(text))
                .with_rack_id(m.rack_id.as_deref().map(text))
                .with_member_epoch(m.member_epoch)
                .with_client_id(text(&m.client_id))
                .with_client_host(text(&m.client_host))
                .with_subscribed_topic_names(
                    m.subscribed_topic_names
                        .iter()
                        .map(|t| TopicName(text(t)))
                        .collect(),
                )
                .with_subscribed_topic_regex(
                    m.subscribed_topic_regex.as_ref().map(|r| text(&r.pattern)),
                )
                .with_assignment(describe_assignment(&m.assigned, topics))
                .with_target_assignment(describe_assignment(&target, topics))
                .with_member_type(CONSUMER_MEMBER_TYPE)
        })
        .collect();
    DescribedGroup::default()
        .with_group_id(GroupId(text(id)))
        .with_group_state(text(g.state().name()))
        .with_group_epoch(g.group_epoch)
        .with_assignment_epoch(g.assignment_epoch)
        .with_assignor_name(text(g.assignor.unwrap_or(Assignor::DEFAULT).name()))
        .with_members(members)
}
