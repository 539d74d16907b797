//! The consumer-group state machine driven by simulated clients and a test
//! clock: each client heartbeats with what it owns and applies the
//! assignment it gets back, as a KIP-848 consumer does.

use std::collections::{BTreeMap, BTreeSet};

use gregor_protocol::kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use gregor_protocol::kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, GroupId, TopicName,
};
use gregor_protocol::kafka_protocol::ResponseError;
use uuid::Uuid;

use super::*;
use crate::records::CoordinatorRecord;
use crate::shard::{CoordinatorConfig, GroupCoordinatorShard};

const GROUP: &str = "g";
const SESSION_MS: i64 = 45_000;

fn topics(list: &[(&str, i32)]) -> Topics {
    list.iter()
        .enumerate()
        .map(|(i, (n, p))| {
            let info = TopicInfo {
                id: Uuid::from_u128(i as u128 + 1),
                partitions: *p,
            };
            (n.to_string(), info)
        })
        .collect()
}

/// A simulated consumer: its member id, epoch and owned partitions.
#[derive(Debug, Clone)]
struct Client {
    id: String,
    epoch: i32,
    owned: BTreeSet<(String, i32)>,
    subscription: Vec<String>,
    regex: Option<String>,
    assignor: Option<String>,
}

struct Harness {
    shard: GroupCoordinatorShard,
    topics: Topics,
    now_ms: i64,
    /// Every consumer-group record the shard produced, in order.
    log: Vec<CoordinatorRecord>,
    /// The group configs' overrides the heartbeats carry.
    session_timeout_ms: Option<i32>,
    heartbeat_interval_ms: Option<i32>,
}

impl Harness {
    fn new(topic_list: &[(&str, i32)]) -> Harness {
        Harness {
            shard: GroupCoordinatorShard::new(0, CoordinatorConfig::default()),
            topics: topics(topic_list),
            now_ms: 1_000,
            log: Vec::new(),
            session_timeout_ms: None,
            heartbeat_interval_ms: None,
        }
    }

    /// Fires the shard's timers, logging what they write.
    fn tick(&mut self) {
        let out = self.shard.tick(self.now_ms);
        self.log.extend(out.records);
        self.assert_log_rebuilds();
    }

    /// Replaying the log into a fresh shard rebuilds the group exactly
    /// (but for session and revocation deadlines, which restart at load).
    fn assert_log_rebuilds(&self) {
        let mut fresh = GroupCoordinatorShard::new(0, CoordinatorConfig::default());
        fresh.set_topics(self.topics.clone());
        for r in &self.log {
            assert_eq!(
                fresh.replay(&r.key, r.value.as_deref()),
                Ok(crate::Replayed::Applied)
            );
        }
        let consumer = |s: &GroupCoordinatorShard| {
            s.group(GROUP)
                .and_then(|g| g.consumer.clone())
                .map(|mut g| {
                    for m in g.members.values_mut() {
                        m.session_deadline_ms = 0;
                        m.revocation_deadline_ms = None;
                    }
                    g
                })
        };
        assert_eq!(consumer(&fresh), consumer(&self.shard));
    }

    fn send(&mut self, req: &ConsumerGroupHeartbeatRequest) -> ConsumerGroupHeartbeatResponse {
        let topics = self.topics.clone();
        let cx = HeartbeatContext {
            api_version: 1,
            client_id: "client",
            client_host: "/127.0.0.1",
            fresh_member_id: "fresh",
            topics: &topics,
            now_ms: self.now_ms,
            session_timeout_ms: self.session_timeout_ms,
            heartbeat_interval_ms: self.heartbeat_interval_ms,
        };
        let (resp, records, _) = self.shard.consumer_group_heartbeat_event(req, &cx);
        self.log.extend(records);
        self.assert_log_rebuilds();
        resp
    }

    fn client(&self, id: &str, subscription: &[&str]) -> Client {
        Client {
            id: id.to_string(),
            epoch: 0,
            owned: BTreeSet::new(),
            subscription: subscription.iter().map(|s| s.to_string()).collect(),
            regex: None,
            assignor: None,
        }
    }

    fn request(&self, c: &Client) -> ConsumerGroupHeartbeatRequest {
        let ids: BTreeMap<&String, Uuid> = self.topics.iter().map(|(n, i)| (n, i.id)).collect();
        let mut by_topic: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
        for (t, p) in &c.owned {
            by_topic.entry(ids[t]).or_default().push(*p);
        }
        let owned = by_topic
            .into_iter()
            .map(|(id, ps)| {
                TopicPartitions::default()
                    .with_topic_id(id)
                    .with_partitions(ps)
            })
            .collect();
        let joining = c.epoch == 0;
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(text(GROUP)))
            .with_member_id(text(&c.id))
            .with_member_epoch(c.epoch)
            .with_rebalance_timeout_ms(if joining { 60_000 } else { -1 })
            .with_subscribed_topic_names(
                joining.then(|| c.subscription.iter().map(|t| TopicName(text(t))).collect()),
            )
            .with_subscribed_topic_regex(joining.then(|| c.regex.as_deref().map(text)).flatten())
            .with_server_assignor(c.assignor.as_deref().map(text))
            .with_topic_partitions(Some(owned))
    }

    /// One heartbeat of `c`, applying the answer as a client does.
    fn beat(&mut self, c: &mut Client) -> ConsumerGroupHeartbeatResponse {
        let req = self.request(c);
        let resp = self.send(&req);
        assert_eq!(resp.error_code, 0, "{:?}", resp.error_message);
        c.epoch = resp.member_epoch;
        if let Some(a) = &resp.assignment {
            let names: BTreeMap<Uuid, &String> =
                self.topics.iter().map(|(n, i)| (i.id, n)).collect();
            c.owned = a
                .topic_partitions
                .iter()
                .flat_map(|tp| {
                    let name = names[&tp.topic_id].clone();
                    tp.partitions.iter().map(move |p| (name.clone(), *p))
                })
                .collect();
        }
        resp
    }

    /// Heartbeats every client until the group is Stable; asserts no
    /// partition is ever owned by two clients at once.
    fn converge(&mut self, clients: &mut [Client]) {
        for _ in 0..20 {
            for c in clients.iter_mut() {
                self.beat(c);
            }
            let mut seen = BTreeSet::new();
            for c in clients.iter() {
                for tp in &c.owned {
                    assert!(seen.insert(tp.clone()), "{tp:?} owned twice: {clients:?}");
                }
            }
            if self.group().state() == ConsumerGroupState::Stable {
                return;
            }
        }
        panic!("no stable group: {:?}", self.group());
    }

    fn group(&self) -> &ConsumerGroup {
        self.shard
            .group(GROUP)
            .and_then(|g| g.consumer.as_ref())
            .expect("consumer group")
    }
}

fn counts(clients: &[Client]) -> Vec<usize> {
    clients.iter().map(|c| c.owned.len()).collect()
}

#[test]
fn three_members_get_two_partitions_each_with_uniform() {
    let mut h = Harness::new(&[("t", 6)]);
    let mut clients: Vec<Client> = ["a", "b", "c"]
        .iter()
        .map(|m| h.client(m, &["t"]))
        .collect();
    h.converge(&mut clients);
    assert_eq!(counts(&clients), vec![2, 2, 2]);
    let g = h.group();
    assert_eq!(g.assignor, Some(Assignor::Uniform));
    assert!(clients.iter().all(|c| c.epoch == g.assignment_epoch));
    assert_eq!(g.group_epoch, g.assignment_epoch);
}

#[test]
fn a_partition_moves_only_after_its_owner_revoked_it() {
    let mut h = Harness::new(&[("t", 4)]);
    let mut a = h.client("a", &["t"]);
    h.beat(&mut a);
    assert_eq!(a.owned.len(), 4);
    let epoch_a = a.epoch;

    let mut b = h.client("b", &["t"]);
    let first = h.beat(&mut b);
    // b is at the new epoch but gets nothing a still owns.
    assert!(b.owned.is_empty(), "{first:?}");
    assert_eq!(
        h.group().members["b"].state,
        MemberState::UnreleasedPartitions
    );
    // a is told to keep two; it stays at its epoch until it confirms.
    let mut a_req = h.request(&a);
    let told = h.send(&a_req);
    assert_eq!(told.member_epoch, epoch_a);
    let kept = &told.assignment.expect("revocation").topic_partitions[0].partitions;
    assert_eq!(kept.len(), 2);
    h.beat(&mut b);
    assert!(b.owned.is_empty(), "b gets nothing before a revokes");
    // a confirms by reporting what it kept: then b gets the rest.
    a.owned = kept.iter().map(|p| ("t".to_string(), *p)).collect();
    a_req = h.request(&a);
    let confirmed = h.send(&a_req);
    assert!(confirmed.member_epoch > epoch_a);
    a.epoch = confirmed.member_epoch;
    h.beat(&mut b);
    assert_eq!(b.owned.len(), 2);
    assert!(a.owned.is_disjoint(&b.owned));
    assert_eq!(h.group().state(), ConsumerGroupState::Stable);
}

#[test]
fn a_leaving_member_hands_its_partitions_to_the_others() {
    let mut h = Harness::new(&[("t", 6)]);
    let mut clients: Vec<Client> = ["a", "b", "c"]
        .iter()
        .map(|m| h.client(m, &["t"]))
        .collect();
    h.converge(&mut clients);
    let c = clients.pop().expect("c");
    let before = h.group().group_epoch;
    let leave = h.request(&c).with_member_epoch(-1);
    let resp = h.send(&leave);
    assert_eq!((resp.error_code, resp.member_epoch), (0, -1));
    assert_eq!(h.group().group_epoch, before + 1);
    h.converge(&mut clients);
    assert_eq!(counts(&clients), vec![3, 3]);
    // Leaving again: the member is gone.
    assert_eq!(
        h.send(&leave).error_code,
        ResponseError::UnknownMemberId.code()
    );
}

#[test]
fn an_expired_session_fences_the_member_and_reassigns() {
    let mut h = Harness::new(&[("t", 4)]);
    let mut clients: Vec<Client> = ["a", "b"].iter().map(|m| h.client(m, &["t"])).collect();
    h.converge(&mut clients);
    // Only a keeps heartbeating.
    h.now_ms += SESSION_MS / 2;
    h.beat(&mut clients[0]);
    h.now_ms += SESSION_MS / 2 + 1;
    h.tick();
    assert!(!h.group().members.contains_key("b"));
    assert!(h.group().members.contains_key("a"));
    let mut a = vec![clients[0].clone()];
    h.converge(&mut a);
    assert_eq!(counts(&a), vec![4]);
    // b's next heartbeat is refused: it must rejoin with epoch 0.
    let late = h.request(&clients[1]);
    assert_eq!(
        h.send(&late).error_code,
        ResponseError::UnknownMemberId.code()
    );
}

#[test]
fn the_groups_own_session_timeout_and_heartbeat_interval_apply() {
    let mut h = Harness::new(&[("t", 2)]);
    h.session_timeout_ms = Some(50_000);
    h.heartbeat_interval_ms = Some(7_000);
    let mut a = h.client("a", &["t"]);
    let resp = h.beat(&mut a);
    assert_eq!(resp.heartbeat_interval_ms, 7_000);
    // Still alive after the coordinator's default session...
    h.now_ms += SESSION_MS + 1;
    h.tick();
    assert!(h.group().members.contains_key("a"));
    // ...and fenced once the group's own one has passed.
    h.now_ms += 50_000 - SESSION_MS;
    h.tick();
    assert!(!h.group().members.contains_key("a"));
}

#[test]
fn a_regex_subscription_follows_new_topics() {
    let mut h = Harness::new(&[("orders-eu", 2), ("other", 3)]);
    let mut a = h.client("a", &[]);
    a.subscription.clear();
    a.regex = Some("orders-.*".to_string());
    let mut clients = vec![a];
    h.converge(&mut clients);
    assert_eq!(clients[0].owned.len(), 2);
    let epoch = h.group().group_epoch;
    // A matching topic is created: the next heartbeat bumps the epoch.
    h.topics.insert(
        "orders-us".into(),
        TopicInfo {
            id: Uuid::from_u128(99),
            partitions: 2,
        },
    );
    h.converge(&mut clients);
    assert_eq!(h.group().group_epoch, epoch + 1);
    let topics: BTreeSet<&str> = clients[0].owned.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(topics, BTreeSet::from(["orders-eu", "orders-us"]));
}

#[test]
fn the_range_assignor_gives_contiguous_ranges() {
    let mut h = Harness::new(&[("t", 5)]);
    let mut clients: Vec<Client> = ["a", "b"]
        .iter()
        .map(|m| {
            let mut c = h.client(m, &["t"]);
            c.assignor = Some("range".into());
            c
        })
        .collect();
    h.converge(&mut clients);
    let parts = |c: &Client| c.owned.iter().map(|(_, p)| *p).collect::<Vec<_>>();
    assert_eq!(parts(&clients[0]), vec![0, 1, 2]);
    assert_eq!(parts(&clients[1]), vec![3, 4]);
    assert_eq!(h.group().assignor, Some(Assignor::Range));
}

#[test]
fn requests_are_checked_as_kafka_checks_them() {
    let mut h = Harness::new(&[("t", 2)]);
    let mut a = h.client("a", &["t"]);
    let code = |h: &mut Harness, r: &ConsumerGroupHeartbeatRequest| h.send(r).error_code;
    let mut bad = h.request(&a).with_server_assignor(Some(text("sticky")));
    assert_eq!(
        code(&mut h, &bad),
        ResponseError::UnsupportedAssignor.code()
    );
    bad = h.request(&a).with_subscribed_topic_names(None);
    assert_eq!(code(&mut h, &bad), ResponseError::InvalidRequest.code());
    bad = h.request(&a).with_member_id(text(""));
    assert_eq!(code(&mut h, &bad), ResponseError::InvalidRequest.code());
    bad = h.request(&a).with_subscribed_topic_regex(Some(text("(")));
    assert_eq!(
        code(&mut h, &bad),
        ResponseError::InvalidRegularExpression.code()
    );
    bad = h.request(&a).with_member_epoch(3);
    assert_eq!(code(&mut h, &bad), ResponseError::GroupIdNotFound.code());

    h.beat(&mut a);
    bad = h.request(&a).with_member_epoch(a.epoch + 1);
    assert_eq!(code(&mut h, &bad), ResponseError::FencedMemberEpoch.code());
    bad = h.request(&a).with_member_id(text("nobody"));
    assert_eq!(code(&mut h, &bad), ResponseError::UnknownMemberId.code());

    h.shard.config.consumer.max_size = 1;
    let b = h.client("b", &["t"]);
    let join_b = h.request(&b);
    assert_eq!(
        code(&mut h, &join_b),
        ResponseError::GroupMaxSizeReached.code()
    );
}

#[test]
fn offset_commits_of_members_name_their_current_epoch() {
    let mut h = Harness::new(&[("t", 2)]);
    let mut a = h.client("a", &["t"]);
    h.beat(&mut a);
    let g = h.group();
    assert_eq!(g.validate_offset_commit("a", a.epoch), Ok(()));
    assert_eq!(
        g.validate_offset_commit("a", a.epoch - 1),
        Err(ResponseError::StaleMemberEpoch)
    );
    assert_eq!(
        g.validate_offset_commit("x", a.epoch),
        Err(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        g.validate_offset_commit("", -1),
        Err(ResponseError::UnknownMemberId),
        "an admin commit while the group has members"
    );
}

#[test]
fn a_live_classic_group_is_not_taken_over() {
    use crate::classic::{ClientInfo, Waiter};
    use gregor_protocol::kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use gregor_protocol::kafka_protocol::messages::JoinGroupRequest;
    let mut h = Harness::new(&[("t", 2)]);
    let join = JoinGroupRequest::default()
        .with_group_id(GroupId(text(GROUP)))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(text("m-1"))
        .with_protocol_type(text("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default().with_name(text("range"))
        ]);
    let client = ClientInfo {
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
    };
    // The first JoinGroup creates the group; v4+ hands out a member id first.
    let waiter = Waiter {
        id: 1,
        api_version: 3,
    };
    h.shard.join_group(
        &join.clone().with_member_id(text("")),
        &client,
        waiter,
        "x",
        h.now_ms,
    );
    let a = h.client("a", &["t"]);
    let req = h.request(&a);
    assert_eq!(
        h.send(&req).error_code,
        ResponseError::GroupIdNotFound.code()
    );
}

#[test]
fn an_empty_consumer_group_is_listed_with_its_type_and_state() {
    let mut h = Harness::new(&[("t", 2)]);
    let mut a = h.client("a", &["t"]);
    h.beat(&mut a);
    let leave = h.request(&a).with_member_epoch(-1);
    h.send(&leave);
    assert!(h.group().is_empty());
    let listed = h.shard.list_groups(&[], &["consumer"]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].group_state.as_str(), "Empty");
    assert!(h.shard.list_groups(&[], &["classic"]).is_empty());
}

#[test]
fn a_static_member_that_left_for_now_comes_back_to_its_partitions() {
    let mut h = Harness::new(&[("t", 4)]);
    let mut clients: Vec<Client> = ["a", "b"].iter().map(|m| h.client(m, &["t"])).collect();
    let with_instance =
        |h: &Harness, c: &Client, i: &str| h.request(c).with_instance_id(Some(text(i)));
    for (c, i) in clients.iter_mut().zip(["ia", "ib"]) {
        let req = with_instance(&h, c, i);
        let resp = h.send(&req);
        c.epoch = resp.member_epoch;
    }
    h.converge(&mut clients);
    let epoch = h.group().group_epoch;
    let b_owned = clients[1].owned.clone();

    let leave = with_instance(&h, &clients[1], "ib").with_member_epoch(-2);
    assert_eq!(h.send(&leave).member_epoch, -2);
    // Another member may not take the instance id while it is in use.
    let thief = h.client("a2", &["t"]);
    let steal = with_instance(&h, &thief, "ia");
    assert_eq!(
        h.send(&steal).error_code,
        ResponseError::UnreleasedInstanceId.code()
    );
    // b restarts under a new member id with the same instance id.
    let mut b2 = h.client("b2", &["t"]);
    let rejoin = with_instance(&h, &b2, "ib");
    let resp = h.send(&rejoin);
    assert_eq!(resp.error_code, 0, "{:?}", resp.error_message);
    b2.epoch = resp.member_epoch;
    let got: BTreeSet<i32> = resp.assignment.expect("assignment").topic_partitions[0]
        .partitions
        .iter()
        .copied()
        .collect();
    let had: BTreeSet<i32> = b_owned.iter().map(|(_, p)| *p).collect();
    assert_eq!(got, had);
    assert_eq!(h.group().group_epoch, epoch, "no rebalance");
    assert!(!h.group().members.contains_key("b"));
}

#[test]
fn join_group_to_a_consumer_group_is_refused_unless_it_is_empty() {
    use crate::classic::{ClientInfo, Completion, Waiter};
    use gregor_protocol::kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use gregor_protocol::kafka_protocol::messages::JoinGroupRequest;
    let mut h = Harness::new(&[("t", 2)]);
    let mut a = h.client("a", &["t"]);
    h.beat(&mut a);
    let join = JoinGroupRequest::default()
        .with_group_id(GroupId(text(GROUP)))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(text("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default().with_name(text("range"))
        ]);
    let client = ClientInfo {
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
    };
    let waiter = Waiter {
        id: 7,
        api_version: 5,
    };
    let out = h.shard.join_group(&join, &client, waiter, "x", h.now_ms);
    let code = match &out.completions[..] {
        [Completion::Join { response, .. }] => response.error_code,
        other => panic!("{other:?}"),
    };
    assert_eq!(code, ResponseError::InconsistentGroupProtocol.code());

    let leave = h.request(&a).with_member_epoch(-1);
    h.send(&leave);
    let out = h.shard.join_group(&join, &client, waiter, "x", h.now_ms);
    let g = h.shard.group(GROUP).expect("group");
    assert!(
        g.consumer.is_none(),
        "the empty consumer group became classic"
    );
    // Its records' tombstones are written, so a reload agrees.
    assert_eq!(out.records, record::group_tombstones(GROUP));
    h.log.extend(out.records);
    h.assert_log_rebuilds();
}

#[test]
fn offset_fetches_of_members_are_checked() {
    use gregor_protocol::kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
    let mut h = Harness::new(&[("t", 2)]);
    let mut a = h.client("a", &["t"]);
    h.beat(&mut a);
    let fetch = |member: &str, epoch: i32| {
        OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(text(GROUP)))
            .with_member_id(Some(text(member)))
            .with_member_epoch(epoch)
    };
    let ok = h.shard.fetch_offsets(&fetch("a", a.epoch), false);
    assert_eq!(ok.error_code, 0);
    let unknown = h.shard.fetch_offsets(&fetch("zz", a.epoch), false);
    assert_eq!(unknown.error_code, ResponseError::UnknownMemberId.code());
    let ahead = h.shard.fetch_offsets(&fetch("a", a.epoch + 1), false);
    assert_eq!(ahead.error_code, ResponseError::StaleMemberEpoch.code());
    // A fetch outside the group protocol (epoch -1) is not checked.
    let admin = h.shard.fetch_offsets(&fetch("", -1), false);
    assert_eq!(admin.error_code, 0);
}

#[test]
fn a_reloaded_shard_rebuilds_the_group_and_members_keep_their_epochs() {
    let mut h = Harness::new(&[("t", 6), ("u", 2)]);
    let mut clients: Vec<Client> = ["a", "b", "c"]
        .iter()
        .map(|m| h.client(m, &["t", "u"]))
        .collect();
    h.converge(&mut clients);
    let mut gone = clients.pop().expect("c");
    gone.epoch = -1;
    let req = h.request(&gone);
    assert_eq!(h.send(&req).error_code, 0);
    h.converge(&mut clients);

    // "Restart": a fresh shard loads the log.
    let before = h.shard.group(GROUP).cloned().expect("group");
    let mut loaded = GroupCoordinatorShard::new(0, CoordinatorConfig::default());
    loaded.set_topics(h.topics.clone());
    for r in &h.log {
        loaded.replay(&r.key, r.value.as_deref()).expect("replays");
    }
    h.shard = loaded;
    h.tick();
    let g = h.group();
    assert_eq!(g.state(), ConsumerGroupState::Stable);
    assert_eq!(g.group_epoch, before.consumer.as_ref().unwrap().group_epoch);
    assert_eq!(
        g.members.keys().collect::<Vec<_>>(),
        vec!["a", "b"],
        "ids survive"
    );
    // The members heartbeat on with the epochs they had, nothing moves.
    for c in clients.iter_mut() {
        let epoch = c.epoch;
        let owned = c.owned.clone();
        h.beat(c);
        assert_eq!((c.epoch, &c.owned), (epoch, &owned));
    }
    assert_eq!(h.group().state(), ConsumerGroupState::Stable);
}

#[test]
fn an_event_whose_records_were_not_written_is_undone() {
    let mut h = Harness::new(&[("t", 2)]);
    let mut a = h.client("a", &["t"]);
    h.beat(&mut a);
    let before = h.shard.group(GROUP).cloned();
    let topics = h.topics.clone();
    let cx = HeartbeatContext {
        api_version: 1,
        client_id: "client",
        client_host: "/127.0.0.1",
        fresh_member_id: "fresh",
        topics: &topics,
        now_ms: h.now_ms,
        session_timeout_ms: None,
        heartbeat_interval_ms: None,
    };
    let b = h.client("b", &["t"]);
    let (_, records, undo) = h.shard.consumer_group_heartbeat_event(&h.request(&b), &cx);
    assert!(!records.is_empty());
    h.shard.undo_consumer_event(undo);
    assert_eq!(h.shard.group(GROUP).cloned(), before);

    // A group the failed event created is gone again.
    let req = h.request(&b).with_group_id(GroupId(text("new")));
    let (_, _, undo) = h.shard.consumer_group_heartbeat_event(&req, &cx);
    assert!(h.shard.group("new").is_some());
    h.shard.undo_consumer_event(undo);
    assert!(h.shard.group("new").is_none());
}
