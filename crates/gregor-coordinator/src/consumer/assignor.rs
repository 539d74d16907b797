//! The server-side assignors: `uniform` (Kafka's default; sticky and
//! balanced) and `range` (contiguous ranges of each topic, members in id
//! order). Both are pure functions of the members' resolved subscriptions,
//! the topics and, for `uniform`, the previous target.

use std::collections::{BTreeMap, BTreeSet};

use super::{Assignment, Topics};

/// A server-side assignor, named by `server_assignor` in the heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Assignor {
    Uniform,
    Range,
}

impl Assignor {
    /// The assignor `group.consumer.assignors` lists first.
    pub const DEFAULT: Assignor = Assignor::Uniform;

    pub fn from_name(name: &str) -> Option<Assignor> {
        match name {
            "uniform" => Some(Assignor::Uniform),
            "range" => Some(Assignor::Range),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Assignor::Uniform => "uniform",
            Assignor::Range => "range",
        }
    }
}

/// Member id → the topics it subscribes to (existing ones only).
pub type Subscriptions = BTreeMap<String, BTreeSet<String>>;

/// The target assignment of every member in `subs`.
pub fn assign(
    assignor: Assignor,
    subs: &Subscriptions,
    topics: &Topics,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    match assignor {
        Assignor::Uniform => uniform(subs, topics, previous),
        Assignor::Range => range(subs, topics),
    }
}

fn range(subs: &Subscriptions, topics: &Topics) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = subs
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect();
    for (topic, info) in topics {
        let members: Vec<&String> = subs
            .iter()
            .filter(|(_, s)| s.contains(topic))
            .map(|(m, _)| m)
            .collect();
        if members.is_empty() || info.partitions <= 0 {
            continue;
        }
        let count = members.len() as i32;
        let (base, extra) = (info.partitions / count, info.partitions % count);
        let mut next = 0;
        for (i, m) in members.iter().enumerate() {
            let n = base + i32::from((i as i32) < extra);
            if n > 0 {
                let parts = out.entry((*m).clone()).or_default();
                parts.insert(topic.clone(), (next..next + n).collect());
            }
            next += n;
        }
    }
    out
}

/// Keeps each member's previous partitions up to a fair share, hands the
/// rest to the least-loaded subscribed member, then moves partitions from
/// the most to the least loaded member while that narrows the gap.
fn uniform(
    subs: &Subscriptions,
    topics: &Topics,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    let subscribed: BTreeSet<&String> = subs.values().flatten().collect();
    let all: Vec<(String, i32)> = subscribed
        .iter()
        .filter_map(|t| topics.get(*t).map(|i| (t, i.partitions)))
        .flat_map(|(t, n)| (0..n).map(move |p| ((*t).clone(), p)))
        .collect();
    let active = subs.values().filter(|s| !s.is_empty()).count().max(1);
    let cap = all.len().div_ceil(active);
    let mut load: BTreeMap<&String, Vec<(String, i32)>> =
        subs.keys().map(|m| (m, Vec::new())).collect();
    let mut taken: BTreeSet<(String, i32)> = BTreeSet::new();
    for (member, parts) in load.iter_mut() {
        let Some(prev) = previous.get(*member) else {
            continue;
        };
        for (t, ps) in prev {
            let limit = topics.get(t).map_or(0, |i| i.partitions);
            if !subs[*member].contains(t) {
                continue;
            }
            for p in ps.iter().filter(|p| **p < limit) {
                if parts.len() < cap && taken.insert((t.clone(), *p)) {
                    parts.push((t.clone(), *p));
                }
            }
        }
    }
    for tp in all.into_iter().filter(|tp| !taken.contains(tp)) {
        let least = load
            .iter_mut()
            .filter(|(m, _)| subs[**m].contains(&tp.0))
            .min_by_key(|(_, parts)| parts.len());
        if let Some((_, parts)) = least {
            parts.push(tp);
        }
    }
    rebalance(subs, &mut load);
    load.into_iter()
        .map(|(m, parts)| {
            let mut a = Assignment::new();
            for (t, p) in parts {
                a.entry(t).or_default().insert(p);
            }
            (m.clone(), a)
        })
        .collect()
}

/// Moves one partition at a time from a member with more than one above
/// another to that member, if it subscribes to the partition's topic.
fn rebalance(subs: &Subscriptions, load: &mut BTreeMap<&String, Vec<(String, i32)>>) {
    let moves_max: usize = load.values().map(Vec::len).sum();
    for _ in 0..moves_max {
        let Some(mv) = find_move(subs, load) else {
            return;
        };
        let (from, index, to) = mv;
        let tp = load.get_mut(&from).expect("member").remove(index);
        load.get_mut(&to).expect("member").push(tp);
    }
}

fn find_move<'a>(
    subs: &Subscriptions,
    load: &BTreeMap<&'a String, Vec<(String, i32)>>,
) -> Option<(&'a String, usize, &'a String)> {
    let mut by_load: Vec<(&&String, &Vec<(String, i32)>)> = load.iter().collect();
    by_load.sort_by_key(|(m, parts)| (std::cmp::Reverse(parts.len()), (**m).clone()));
    for (from, parts) in &by_load {
        for (to, to_parts) in by_load.iter().rev() {
            if parts.len() <= to_parts.len() + 1 {
                break;
            }
            // Move the last partition the receiver can take.
            if let Some(i) = parts.iter().rposition(|(t, _)| subs[**to].contains(t)) {
                return Some((**from, i, **to));
            }
        }
    }
    None
}
