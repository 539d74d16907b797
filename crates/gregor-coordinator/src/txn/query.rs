//! DescribeTransactions and ListTransactions over one shard: read-only
//! views with Kafka's state names and filters (KIP-664, KIP-994).

use super::metadata::{TxnMetadata, TxnState};
use super::shard::TxnCoordinatorShard;
use super::TxnError;

/// One transactional id as DescribeTransactions shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnDescription {
    pub transactional_id: String,
    /// Kafka's state name (`Empty`, `Ongoing`, `PrepareCommit`, ...).
    pub state: &'static str,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub transaction_timeout_ms: i32,
    /// -1 when no transaction is open.
    pub transaction_start_time_ms: i64,
    /// The partitions in the transaction, by topic, both sorted.
    pub topics: Vec<(String, Vec<i32>)>,
}

/// ListTransactions' filters; empty lists match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// State names; unknown names are reported back, as Kafka does.
    pub states: Vec<String>,
    pub producer_ids: Vec<i64>,
    /// KIP-994 `DurationFilter`: only transactions running longer than
    /// this many milliseconds. `None` (the request's -1) for all.
    pub min_duration_ms: Option<i64>,
}

/// One entry of a ListTransactions answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTxn {
    pub transactional_id: String,
    pub producer_id: i64,
    pub state: &'static str,
}

/// A ListTransactions answer for one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub unknown_state_filters: Vec<String>,
    pub transactions: Vec<ListedTxn>,
}

impl TxnCoordinatorShard {
    /// DescribeTransactions, one answer per id in request order.
    pub fn describe(&self, ids: &[&str]) -> Vec<(String, Result<TxnDescription, TxnError>)> {
        ids.iter()
            .map(|id| (id.to_string(), self.describe_one(id)))
            .collect()
    }

    fn describe_one(&self, id: &str) -> Result<TxnDescription, TxnError> {
        if id.is_empty() {
            return Err(TxnError::InvalidRequest);
        }
        let m = self
            .txns
            .get(id)
            .filter(|m| m.state != TxnState::Dead)
            .ok_or(TxnError::TransactionalIdNotFound)?;
        let mut topics: Vec<(String, Vec<i32>)> = Vec::new();
        for tp in &m.partitions {
            match topics.last_mut() {
                Some((topic, parts)) if *topic == tp.topic => parts.push(tp.partition),
                _ => topics.push((tp.topic.clone(), vec![tp.partition])),
            }
        }
        Ok(TxnDescription {
            transactional_id: id.to_string(),
            state: m.state.name(),
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            transaction_timeout_ms: m.txn_timeout_ms,
            transaction_start_time_ms: m.txn_start_timestamp_ms,
            topics,
        })
    }

    /// ListTransactions with Kafka's filters. A state filter of only
    /// unknown names matches nothing, as in Kafka.
    pub fn list(&self, filter: &ListFilter, now_ms: i64) -> Listing {
        let mut listing = Listing::default();
        let mut states = Vec::new();
        for name in &filter.states {
            match TxnState::from_name(name) {
                Some(s) => states.push(s),
                None => listing.unknown_state_filters.push(name.clone()),
            }
        }
        let include = |m: &TxnMetadata| {
            m.state != TxnState::Dead
                && (filter.producer_ids.is_empty() || filter.producer_ids.contains(&m.producer_id))
                && (filter.states.is_empty() || states.contains(&m.state))
                && filter
                    .min_duration_ms
                    .is_none_or(|d| now_ms.saturating_sub(m.txn_start_timestamp_ms) > d)
        };
        listing.transactions = self
            .txns
            .values()
            .filter(|m| include(m))
            .map(|m| ListedTxn {
                transactional_id: m.transactional_id.clone(),
                producer_id: m.producer_id,
                state: m.state.name(),
            })
            .collect();
        listing
    }
}
