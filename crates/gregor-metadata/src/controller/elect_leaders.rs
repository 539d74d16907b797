//! ElectLeaders: Kafka's `ReplicationControlManager.electLeader` for one
//! partition. A preferred election makes the first replica the leader if it
//! is alive and in the ISR; an unclean one gives a leaderless partition a
//! leader, from outside the ISR if it must. A partition that already has
//! the leader the election would give it needs no election.

use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiError, ClusterContext};
use crate::image::{MetadataImage, PartitionImage};
use crate::records::MetadataRecord;

/// Kafka's `ElectionType` (the request's `election_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    Preferred,
    Unclean,
}

impl ElectionType {
    /// The wire value: 0 preferred, 1 unclean; anything else is invalid.
    pub fn from_wire(value: i8) -> Option<ElectionType> {
        match value {
            0 => Some(ElectionType::Preferred),
            1 => Some(ElectionType::Unclean),
            _ => None,
        }
    }
}

/// Kafka's "no leader" broker id.
const NO_LEADER: i32 = -1;

/// The records electing a new leader for `topic`-`partition`, or why none
/// is elected (ELECTION_NOT_NEEDED when the partition already has the
/// leader the election would pick).
pub fn elect_leader(
    image: &MetadataImage,
    ctx: &ClusterContext,
    topic: &str,
    partition: i32,
    election: ElectionType,
) -> Result<Vec<MetadataRecord>, ApiError> {
    let unknown = |m: String| ApiError::new(ResponseError::UnknownTopicOrPartition, m);
    let t = image
        .topic(topic)
        .ok_or_else(|| unknown(format!("No such topic as {topic}")))?;
    let p = t
        .partitions
        .get(&partition)
        .ok_or_else(|| unknown(format!("No such partition as {topic}-{partition}")))?;
    let preferred = p.replicas.first().copied().unwrap_or(NO_LEADER);
    let not_needed = match election {
        ElectionType::Preferred => p.leader == preferred,
        ElectionType::Unclean => p.leader != NO_LEADER,
    };
    if not_needed {
        return Err(ApiError::new(ResponseError::ElectionNotNeeded, ""));
    }
    let alive = |b: &i32| ctx.broker_ids.contains(b);
    let (leader, isr) = match election {
        ElectionType::Preferred => {
            if !alive(&preferred) || !p.isr.contains(&preferred) {
                return Err(ApiError::new(
                    ResponseError::PreferredLeaderNotAvailable,
                    "The preferred leader was not available.",
                ));
            }
            (preferred, p.isr.clone())
        }
        ElectionType::Unclean => {
            match p
                .replicas
                .iter()
                .copied()
                .find(|b| alive(b) && p.isr.contains(b))
            {
                Some(b) => (b, p.isr.clone()),
                None => match p.replicas.iter().copied().find(alive) {
                    // Unclean: a replica outside the ISR becomes the only one in it.
                    Some(b) => (b, vec![b]),
                    None => {
                        return Err(ApiError::new(
                            ResponseError::EligibleLeadersNotAvailable,
                            "Unable to find any alive replicas",
                        ))
                    }
                },
            }
        }
    };
    Ok(vec![changed(t.topic_id, p, leader, isr)])
}

fn changed(topic_id: uuid::Uuid, p: &PartitionImage, leader: i32, isr: Vec<i32>) -> MetadataRecord {
    MetadataRecord::Partition {
        topic_id,
        partition: p.partition,
        replicas: p.replicas.clone(),
        isr,
        leader,
        leader_epoch: p.leader_epoch + 1,
        partition_epoch: p.partition_epoch + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn image_with(leader: i32, replicas: Vec<i32>, isr: Vec<i32>) -> MetadataImage {
        let topic_id = Uuid::from_u128(7);
        let mut image = MetadataImage::default();
        image.apply(&MetadataRecord::Topic {
            name: "t".into(),
            topic_id,
        });
        image.apply(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas,
            isr,
            leader,
            leader_epoch: 4,
            partition_epoch: 9,
        });
        image
    }

    fn ctx(brokers: &[i32]) -> ClusterContext {
        ClusterContext {
            broker_ids: brokers.to_vec(),
            default_partitions: 1,
            default_replication_factor: 1,
        }
    }

    fn code(r: Result<Vec<MetadataRecord>, ApiError>) -> ResponseError {
        r.expect_err("refused").code
    }

    #[test]
    fn a_partition_led_by_its_preferred_replica_needs_no_election() {
        let image = image_with(1, vec![1], vec![1]);
        for election in [ElectionType::Preferred, ElectionType::Unclean] {
            let r = elect_leader(&image, &ctx(&[1]), "t", 0, election);
            assert_eq!(code(r), ResponseError::ElectionNotNeeded);
        }
        let r = elect_leader(&image, &ctx(&[1]), "t", 1, ElectionType::Preferred);
        assert_eq!(code(r), ResponseError::UnknownTopicOrPartition);
        let r = elect_leader(&image, &ctx(&[1]), "u", 0, ElectionType::Preferred);
        assert_eq!(code(r), ResponseError::UnknownTopicOrPartition);
    }

    #[test]
    fn preferred_election_moves_leadership_and_bumps_epochs() {
        let image = image_with(2, vec![1, 2], vec![1, 2]);
        let records =
            elect_leader(&image, &ctx(&[1, 2]), "t", 0, ElectionType::Preferred).expect("elected");
        let MetadataRecord::Partition {
            leader,
            leader_epoch,
            partition_epoch,
            ..
        } = &records[0]
        else {
            panic!("not a partition record: {records:?}");
        };
        assert_eq!((*leader, *leader_epoch, *partition_epoch), (1, 5, 10));
        let out_of_isr = image_with(2, vec![1, 2], vec![2]);
        let r = elect_leader(&out_of_isr, &ctx(&[1, 2]), "t", 0, ElectionType::Preferred);
        assert_eq!(code(r), ResponseError::PreferredLeaderNotAvailable);
    }

    #[test]
    fn unclean_election_takes_any_alive_replica_when_the_isr_is_gone() {
        let image = image_with(NO_LEADER, vec![1, 2], vec![1]);
        let records =
            elect_leader(&image, &ctx(&[2]), "t", 0, ElectionType::Unclean).expect("elected");
        assert!(matches!(
            &records[0],
            MetadataRecord::Partition { leader: 2, isr, .. } if isr == &vec![2]
        ));
        let r = elect_leader(&image, &ctx(&[3]), "t", 0, ElectionType::Unclean);
        assert_eq!(code(r), ResponseError::EligibleLeadersNotAvailable);
    }
}
