//! Rebalances (members joining, leaving, timing out), persistence of
//! groups in their records, and DescribeGroups/ListGroups.

use bytes::Bytes;
use gregor_protocol::kafka_protocol::ResponseError;

use super::tests::{consumer, Harness, G, REBALANCE_MS, SESSION_MS};
use super::*;
use crate::records::RecordKey;
use crate::{CoordinatorConfig, GroupCoordinatorShard, Replayed};

/// Each of `ids` rejoins with its member id; returns their waiters.
fn rejoin_all(h: &mut Harness, ids: &[&str]) -> Vec<WaiterId> {
    ids.iter().map(|id| h.join(&consumer(id))).collect()
}

#[test]
fn a_new_member_makes_everyone_rejoin_for_a_new_generation() {
    let mut h = Harness::new();
    let ids = h.stable_group_of_three();
    let (new_id, new_w) = h.join_new(&consumer(""));
    assert_eq!(h.group().state(), GroupState::PreparingRebalance);
    for id in &ids {
        assert_eq!(
            h.heartbeat(id, 1),
            ResponseError::RebalanceInProgress.code()
        );
    }
    let w = rejoin_all(&mut h, &[&ids[0], &ids[1]]);
    assert!(h.joined(w[0]).is_none(), "waits for the last member");
    let last = h.join(&consumer(&ids[2]));
    // Everyone rejoined: no delay outside the first rebalance.
    for w in [w[0], w[1], last, new_w] {
        let r = h.joined(w).unwrap();
        assert_eq!((r.error_code, r.generation_id), (0, 2));
    }
    assert_eq!(h.group().num_members(), 4);
    assert!(h.group().member(&new_id).is_some());
    assert_eq!(h.group().state(), GroupState::CompletingRebalance);
}

#[test]
fn a_leaving_member_makes_the_rest_rebalance_and_a_new_leader_is_chosen() {
    let mut h = Harness::new();
    let ids = h.stable_group_of_three();
    let leader = ids[0].clone();
    h.leave(&[(leader.as_str(), None)]);
    assert_eq!(h.group().state(), GroupState::PreparingRebalance);
    assert_ne!(h.group().leader_id(), Some(leader.as_str()));
    let w = rejoin_all(&mut h, &[&ids[1], &ids[2]]);
    let r = h.joined(w[0]).unwrap();
    assert_eq!((r.error_code, r.generation_id), (0, 2));
    assert!(ids[1..].iter().any(|id| id.as_str() == r.leader.as_str()));
    assert_eq!(h.group().num_members(), 2);
    // The old generation's heartbeat is refused now.
    assert_eq!(
        h.heartbeat(&ids[1], 1),
        ResponseError::IllegalGeneration.code()
    );
}

#[test]
fn the_last_member_leaving_empties_the_group_and_allows_simple_commits() {
    let mut h = Harness::new();
    let ids = h.stable_group_of_three();
    let records_before = h.records.len();
    let who: Vec<(&str, Option<&str>)> = ids.iter().map(|id| (id.as_str(), None)).collect();
    h.leave(&who);
    assert_eq!(h.group().state(), GroupState::Empty);
    assert_eq!(h.group().generation_id(), 2);
    // The empty generation is written.
    assert_eq!(h.records.len(), records_before + 1);
    let v = GroupMetadataValue::decode(h.records.last().unwrap().value.as_ref().unwrap()).unwrap();
    assert_eq!((v.generation, v.members.len(), v.protocol), (2, 0, None));
    assert_eq!(h.group().validate_offset_commit("", None, -1), Ok(()));
}

#[test]
fn members_whose_session_expires_are_removed() {
    let mut h = Harness::new();
    let ids = h.stable_group_of_three();
    let half = i64::from(SESSION_MS / 2);
    h.advance(half);
    assert_eq!(h.heartbeat(&ids[0], 1), 0);
    assert_eq!(h.heartbeat(&ids[1], 1), 0);
    h.advance(half);
    // ids[2] last heard from at its SyncGroup: a full session ago.
    assert!(h.group().member(&ids[2]).is_none());
    assert_eq!(h.group().state(), GroupState::PreparingRebalance);
    // A member parked in JoinGroup needs no heartbeat: ids[0] waits
    // longer than its session for ids[1], which rejoins just in time.
    let w0 = h.join(&consumer(&ids[0]));
    for _ in 0..4 {
        let code = h.heartbeat(&ids[1], 1);
        assert_eq!(code, ResponseError::RebalanceInProgress.code());
        h.advance(i64::from(SESSION_MS / 2));
    }
    assert!(h.group().member(&ids[0]).is_some());
    let w1 = h.join(&consumer(&ids[1]));
    assert_eq!(h.joined(w0).unwrap().generation_id, 2);
    assert_eq!(h.joined(w1).unwrap().generation_id, 2);
    assert_eq!(h.group().num_members(), 2);
}

#[test]
fn members_that_do_not_rejoin_within_the_rebalance_timeout_are_removed() {
    let mut h = Harness::new();
    let ids = h.stable_group_of_three();
    // The leader rejoining starts a rebalance.
    let w = rejoin_all(&mut h, &[&ids[0], &ids[1]]);
    assert_eq!(h.group().state(), GroupState::PreparingRebalance);
    // ids[2] keeps heartbeating but never rejoins.
    for _ in 0..(REBALANCE_MS / 5_000) - 1 {
        h.advance(5_000);
        assert_eq!(
            h.heartbeat(&ids[2], 1),
            ResponseError::RebalanceInProgress.code()
        );
    }
    assert!(h.joined(w[0]).is_none());
    h.advance(5_000);
    let r = h.joined(w[0]).unwrap();
    assert_eq!((r.error_code, r.generation_id), (0, 2));
    assert!(h.group().member(&ids[2]).is_none());
    assert_eq!(
        h.heartbeat(&ids[2], 1),
        ResponseError::UnknownMemberId.code()
    );
}

#[test]
fn a_rebalance_during_completing_rebalance_releases_parked_syncs() {
    let mut h = Harness::new();
    let (a, _) = h.join_new(&consumer(""));
    let (b, _) = h.join_new(&consumer(""));
    h.settle();
    let follower = if h.group().is_leader(&a) {
        b.clone()
    } else {
        a.clone()
    };
    let sw = h.sync(&follower, 1, &[]);
    assert!(h.synced(sw).is_none());
    h.join_new(&consumer(""));
    assert_eq!(
        h.synced(sw).unwrap().error_code,
        ResponseError::RebalanceInProgress.code()
    );
    let w = h.sync(&follower, 1, &[]);
    assert_eq!(
        h.synced(w).unwrap().error_code,
        ResponseError::RebalanceInProgress.code()
    );
}

#[test]
fn members_that_never_sync_are_removed_after_the_rebalance_timeout() {
    let mut h = Harness::new();
    let (a, _) = h.join_new(&consumer(""));
    let (b, _) = h.join_new(&consumer(""));
    h.settle();
    let (leader, follower) = if h.group().is_leader(&a) {
        (a, b)
    } else {
        (b, a)
    };
    h.sync(
        &leader,
        1,
        &[(leader.as_str(), b"x"), (follower.as_str(), b"y")],
    );
    assert_eq!(h.group().state(), GroupState::Stable);
    for _ in 0..REBALANCE_MS / 5_000 {
        // The follower heartbeats but never fetches its assignment.
        assert_eq!(h.heartbeat(&follower, 1), 0);
        assert_eq!(h.heartbeat(&leader, 1), 0);
        h.advance(5_000);
    }
    assert!(h.group().member(&follower).is_none());
    assert_eq!(h.group().state(), GroupState::PreparingRebalance);
}

#[test]
fn a_member_joining_during_the_initial_delay_extends_it_up_to_the_rebalance_timeout() {
    let mut h = Harness::new();
    let (_, first) = h.join_new(&consumer(""));
    // A member arrives in every delay window: the delay keeps extending,
    // but never past the rebalance timeout.
    for _ in 0..20 {
        if h.joined(first).is_some() {
            break;
        }
        h.join_new(&consumer(""));
        h.advance(i64::from(super::tests::DELAY_MS));
    }
    let waited = h.now - super::tests::T0;
    assert!(h.joined(first).is_some());
    assert!(waited <= i64::from(REBALANCE_MS), "waited {waited} ms");
    assert!(waited > i64::from(super::tests::DELAY_MS));
}

/// A fresh shard with `records` replayed, as at broker start.
fn reload(records: &[crate::CoordinatorRecord]) -> GroupCoordinatorShard {
    let mut shard = GroupCoordinatorShard::new(0, CoordinatorConfig::default());
    for r in records {
        assert_eq!(
            shard.replay(&r.key, r.value.as_deref()),
            Ok(Replayed::Applied)
        );
    }
    shard
}

#[test]
fn a_stable_group_comes_back_from_its_records() {
    let mut h = Harness::new();
    let ids = h.stable_group_of_three();
    let mut shard = reload(&h.records);
    let g = &shard.group(G).unwrap().classic;
    assert_eq!(g.state(), GroupState::Stable);
    assert_eq!(g.generation_id(), 1);
    assert_eq!(g.protocol_type(), Some("consumer"));
    assert_eq!(g.protocol_name(), Some("range"));
    assert_eq!(g.leader_id(), Some(ids[0].as_str()));
    for id in &ids {
        let m = g.member(id).unwrap();
        assert_eq!(m.assignment, Bytes::from(format!("a-{id}")));
        assert_eq!(m.metadata("range").as_ref(), b"sub-range");
        assert_eq!(
            (m.client_id.as_str(), m.client_host.as_str()),
            ("client", "/127.0.0.1")
        );
    }
    // Members carry on with their ids and generation after the restart...
    let t = h.now + 1_000;
    let hb = |shard: &mut GroupCoordinatorShard, id: &str, now| {
        let req = gregor_protocol::kafka_protocol::messages::HeartbeatRequest::default()
            .with_group_id(gregor_protocol::kafka_protocol::messages::GroupId(
                super::tests::s(G),
            ))
            .with_generation_id(1)
            .with_member_id(super::tests::s(id));
        shard.heartbeat(&req, now).error_code
    };
    assert!(shard.tick(t).is_empty());
    let later = t + i64::from(SESSION_MS / 2);
    assert_eq!(hb(&mut shard, &ids[0], later), 0);
    assert_eq!(hb(&mut shard, &ids[1], later), 0);
    // ...and those that do not come back expire a session after the load.
    shard.tick(t + i64::from(SESSION_MS));
    let g = &shard.group(G).unwrap().classic;
    assert!(g.member(&ids[2]).is_none());
    assert_eq!(g.state(), GroupState::PreparingRebalance);
}

#[test]
fn group_metadata_value_bytes_are_kafkas_version_3() {
    let v = GroupMetadataValue {
        protocol_type: "consumer".into(),
        generation: 7,
        protocol: Some("range".into()),
        leader: Some("m".into()),
        current_state_timestamp_ms: 0x0102,
        members: vec![GroupMetadataMember {
            member_id: "m".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/h".into(),
            rebalance_timeout_ms: 300,
            session_timeout_ms: 45,
            subscription: Bytes::from_static(b"S"),
            assignment: Bytes::from_static(b"AA"),
        }],
    };
    let bytes = v.encode().unwrap();
    let mut want = vec![0, 3, 0, 8];
    want.extend_from_slice(b"consumer");
    want.extend_from_slice(&7i32.to_be_bytes());
    want.extend_from_slice(&[0, 5]);
    want.extend_from_slice(b"range");
    want.extend_from_slice(&[0, 1, b'm']);
    want.extend_from_slice(&0x0102i64.to_be_bytes());
    want.extend_from_slice(&1i32.to_be_bytes());
    want.extend_from_slice(&[0, 1, b'm']);
    want.extend_from_slice(&[0xff, 0xff]); // null group instance id
    want.extend_from_slice(&[0, 1, b'c', 0, 2, b'/', b'h']);
    want.extend_from_slice(&300i32.to_be_bytes());
    want.extend_from_slice(&45i32.to_be_bytes());
    want.extend_from_slice(&[0, 0, 0, 1, b'S', 0, 0, 0, 2, b'A', b'A']);
    assert_eq!(bytes.as_ref(), &want[..]);
    assert_eq!(GroupMetadataValue::decode(&bytes).unwrap(), v);
    for cut in 0..bytes.len() {
        assert!(
            GroupMetadataValue::decode(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn group_metadata_values_of_versions_0_and_4_decode() {
    // v0: no timestamp, no instance id, no rebalance timeout; null protocol.
    let mut v0 = vec![0, 0, 0, 0];
    v0.extend_from_slice(&0i32.to_be_bytes());
    v0.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    v0.extend_from_slice(&0i32.to_be_bytes());
    let d = GroupMetadataValue::decode(&v0).unwrap();
    assert_eq!(
        (
            d.protocol_type.as_str(),
            d.protocol.as_deref(),
            d.current_state_timestamp_ms
        ),
        ("", None, -1)
    );
    assert!(d.into_group().is_empty());

    // v4 (flexible): compact strings and arrays, tagged fields.
    let mut v4 = vec![0, 4, 2, b'x'];
    v4.extend_from_slice(&3i32.to_be_bytes());
    v4.extend_from_slice(&[2, b'p', 2, b'm']);
    v4.extend_from_slice(&9i64.to_be_bytes());
    v4.push(2); // one member
    v4.extend_from_slice(&[2, b'm', 0, 2, b'c', 2, b'h']);
    v4.extend_from_slice(&5i32.to_be_bytes());
    v4.extend_from_slice(&6i32.to_be_bytes());
    v4.extend_from_slice(&[2, b's', 1, 0]); // subscription "s", empty assignment, no tags
    v4.extend_from_slice(&[1, 7, 1, 0xee]); // one unknown tagged field
    let d = GroupMetadataValue::decode(&v4).unwrap();
    assert_eq!(d.members[0].rebalance_timeout_ms, 5);
    assert_eq!(d.members[0].subscription.as_ref(), b"s");
    let g = d.into_group();
    assert_eq!(
        (g.state(), g.generation_id(), g.protocol_name()),
        (GroupState::Stable, 3, Some("p"))
    );
}

#[test]
fn a_group_record_tombstone_deletes_the_group() {
    let mut h = Harness::new();
    h.stable_group_of_three();
    let mut records = h.records.clone();
    let key = RecordKey::GroupMetadata { group: G.into() }
        .encode()
        .unwrap();
    records.push(crate::CoordinatorRecord { key, value: None });
    assert!(reload(&records).group(G).is_none());
}

#[test]
fn describe_and_list_show_state_protocol_and_members() {
    let mut h = Harness::new();
    let ids = h.stable_group_of_three();
    let d = &h.shard.describe_groups([G, "missing"], 5);
    assert_eq!(d[0].group_state.as_str(), "Stable");
    assert_eq!(d[0].protocol_type.as_str(), "consumer");
    assert_eq!(d[0].protocol_data.as_str(), "range");
    assert_eq!(d[0].members.len(), 3);
    let m = d[0]
        .members
        .iter()
        .find(|m| m.member_id.as_str() == ids[1])
        .unwrap();
    assert_eq!(m.member_metadata.as_ref(), b"sub-range");
    assert_eq!(m.member_assignment, Bytes::from(format!("a-{}", ids[1])));
    assert_eq!(
        (m.client_id.as_str(), m.client_host.as_str()),
        ("client", "/127.0.0.1")
    );
    assert_eq!((d[1].group_state.as_str(), d[1].error_code), ("Dead", 0));
    let d6 = h.shard.describe_groups(["missing"], 6);
    assert_eq!(d6[0].error_code, ResponseError::GroupIdNotFound.code());

    // Rebalancing: no protocol and no member metadata.
    h.join_new(&consumer(""));
    let d = h.shard.describe_groups([G], 5);
    assert_eq!(d[0].group_state.as_str(), "PreparingRebalance");
    assert_eq!(d[0].protocol_data.as_str(), "");
    assert!(d[0].members.iter().all(|m| m.member_metadata.is_empty()));

    let all = h.shard.list_groups(&[], &[]);
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].group_state.as_str(), all[0].group_type.as_str()),
        ("PreparingRebalance", "classic")
    );
    assert_eq!(h.shard.list_groups(&["preparingREBALANCE "], &[]).len(), 1);
    assert!(h.shard.list_groups(&["Stable"], &[]).is_empty());
    assert_eq!(h.shard.list_groups(&[], &["Classic"]).len(), 1);
    assert!(h.shard.list_groups(&[], &["consumer"]).is_empty());
}

#[test]
fn a_rejoin_with_the_same_metadata_while_completing_gets_the_same_answer() {
    let mut h = Harness::new();
    h.join_new(&consumer(""));
    let (b, wb) = h.join_new(&consumer(""));
    h.settle();
    let first = h.joined(wb).unwrap().clone();
    let again = h.join(&consumer(&b));
    assert_eq!(h.joined(again).unwrap(), &first);
    assert_eq!(h.group().state(), GroupState::CompletingRebalance);
}

#[test]
fn a_new_group_is_written_empty_before_its_first_generation() {
    let mut h = Harness::new();
    // A v3 member is added at once and parked; the join phase is not over.
    h.join(&super::tests::Joiner {
        version: 3,
        ..consumer("")
    });
    assert_eq!(h.records.len(), 1);
    let v = GroupMetadataValue::decode(h.records[0].value.as_ref().unwrap()).unwrap();
    assert_eq!(
        (v.protocol_type.as_str(), v.generation, v.members.len()),
        ("", 0, 0)
    );
    let shard = reload(&h.records);
    let g = &shard.group(G).unwrap().classic;
    assert_eq!((g.state(), g.num_members()), (GroupState::Empty, 0));
}
