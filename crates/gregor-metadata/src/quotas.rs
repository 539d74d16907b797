//! Client quotas: the entities they apply to, the image of configured
//! values, and the controller's rules for DescribeClientQuotas and
//! AlterClientQuotas (Kafka's `ClientQuotaControlManager` and
//! `ClientQuotasImage`).
//!
//! An entity is a set of (entity type, name) pairs, at most one per type;
//! a `None` name is the type's default entity (`<default>` in Kafka's
//! tools). Values are doubles, as on the wire.

use std::collections::BTreeMap;
use std::net::IpAddr;

use gregor_protocol::kafka_protocol::ResponseError;
use serde::{Deserialize, Serialize};

use crate::controller::ApiError;
use crate::image::MetadataImage;
use crate::records::MetadataRecord;

pub const USER: &str = "user";
pub const CLIENT_ID: &str = "client-id";
pub const IP: &str = "ip";

pub const PRODUCER_BYTE_RATE: &str = "producer_byte_rate";
pub const CONSUMER_BYTE_RATE: &str = "consumer_byte_rate";
pub const REQUEST_PERCENTAGE: &str = "request_percentage";
pub const CONTROLLER_MUTATION_RATE: &str = "controller_mutation_rate";
pub const CONNECTION_CREATION_RATE: &str = "connection_creation_rate";

/// DescribeClientQuotas match types.
pub const MATCH_TYPE_EXACT: i8 = 0;
pub const MATCH_TYPE_DEFAULT: i8 = 1;
pub const MATCH_TYPE_SPECIFIED: i8 = 2;

/// One (type, name) part of an entity, as stored in a quota record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityPart {
    pub entity_type: String,
    /// `None`: the default entity of this type.
    pub entity_name: Option<String>,
}

/// A quota entity: entity type → name (`None` = default).
pub type QuotaEntity = BTreeMap<String, Option<String>>;

/// The configured values of one entity, by quota key.
pub type QuotaValues = BTreeMap<String, QuotaValue>;

/// A quota value. Quota values are doubles on the wire and in Kafka's
/// records; equality is bitwise so records and images can be compared.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuotaValue(pub f64);

impl PartialEq for QuotaValue {
    fn eq(&self, other: &QuotaValue) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for QuotaValue {}

/// The configured quotas of every entity, replayed from quota records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientQuotas {
    entities: BTreeMap<QuotaEntity, BTreeMap<String, QuotaValue>>,
}

impl ClientQuotas {
    /// The values configured for exactly `entity`.
    pub fn get(&self, entity: &QuotaEntity) -> Option<&BTreeMap<String, QuotaValue>> {
        self.entities.get(entity)
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    pub fn entities(&self) -> impl Iterator<Item = (&QuotaEntity, &BTreeMap<String, QuotaValue>)> {
        self.entities.iter()
    }

    /// Applies one quota record; an entity without values disappears.
    pub fn apply(&mut self, entity: &[EntityPart], key: &str, value: QuotaValue, remove: bool) {
        let entity = entity_of(entity);
        if remove {
            if let Some(values) = self.entities.get_mut(&entity) {
                values.remove(key);
                if values.is_empty() {
                    self.entities.remove(&entity);
                }
            }
        } else {
            self.entities
                .entry(entity)
                .or_default()
                .insert(key.to_string(), value);
        }
    }
}

pub fn entity_of(parts: &[EntityPart]) -> QuotaEntity {
    parts
        .iter()
        .map(|p| (p.entity_type.clone(), p.entity_name.clone()))
        .collect()
}

/// One component of a DescribeClientQuotas filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterComponent {
    pub entity_type: String,
    pub match_type: i8,
    pub name: Option<String>,
}

/// The entities a DescribeClientQuotas filter selects, with their values,
/// or INVALID_REQUEST / UNSUPPORTED_VERSION for a malformed filter.
pub fn describe(
    quotas: &ClientQuotas,
    components: &[FilterComponent],
    strict: bool,
) -> Result<Vec<(QuotaEntity, QuotaValues)>, ApiError> {
    let invalid = |m: String| ApiError::new(ResponseError::InvalidRequest, m);
    // entity type → Some(name) / None (default) for exact matches.
    let mut exact: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    let mut specified: Vec<&str> = Vec::new();
    for c in components {
        let t = c.entity_type.as_str();
        if t.is_empty() {
            return Err(invalid("Invalid empty entity type.".into()));
        }
        if exact.contains_key(t) || specified.contains(&t) {
            return Err(invalid(format!(
                "Entity type {t} cannot appear more than once in the filter."
            )));
        }
        if ![USER, CLIENT_ID, IP].contains(&t) {
            return Err(ApiError::new(
                ResponseError::UnsupportedVersion,
                format!("Unsupported entity type {t}"),
            ));
        }
        match (c.match_type, &c.name) {
            (MATCH_TYPE_EXACT, None) => {
                return Err(invalid(
                    "Request specified MATCH_TYPE_EXACT, but set match string to null.".into(),
                ))
            }
            (MATCH_TYPE_EXACT, Some(name)) => {
                exact.insert(t, Some(name.as_str()));
            }
            (MATCH_TYPE_DEFAULT, Some(_)) => {
                return Err(invalid(
                    "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."
                        .into(),
                ))
            }
            (MATCH_TYPE_DEFAULT, None) => {
                exact.insert(t, None);
            }
            (MATCH_TYPE_SPECIFIED, Some(_)) => {
                return Err(invalid(
                    "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."
                        .into(),
                ))
            }
            (MATCH_TYPE_SPECIFIED, None) => specified.push(t),
            (other, _) => return Err(invalid(format!("Unknown match type {other}"))),
        }
    }
    let uses = |t: &str| exact.contains_key(t) || specified.contains(&t);
    if uses(IP) && (uses(USER) || uses(CLIENT_ID)) {
        return Err(invalid(
            "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.".into(),
        ));
    }
    if exact.is_empty() && specified.is_empty() && strict {
        return Ok(Vec::new());
    }
    let selected = quotas.entities.iter().filter(|(entity, _)| {
        let matches_exact = exact.iter().all(|(t, name)| {
            entity
                .get(*t)
                .is_some_and(|n| n.as_deref() == name.as_deref())
        });
        // MATCH_TYPE_SPECIFIED selects any named entity of the type
        // (Kafka's image indexes defaults under the type too, and so
        // selects them as well).
        let matches_type = specified.iter().all(|t| entity.contains_key(*t));
        let size_ok = !strict || entity.len() == exact.len() + specified.len();
        matches_exact && matches_type && size_ok
    });
    Ok(selected.map(|(e, v)| (e.clone(), v.clone())).collect())
}

/// One entry of an AlterClientQuotas request: `None` removes the key.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaAlteration {
    pub entity: Vec<EntityPart>,
    pub ops: Vec<(String, Option<f64>)>,
}

/// The type of a quota key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Long,
    Double,
}

fn user_or_client_key(key: &str) -> Option<KeyType> {
    match key {
        PRODUCER_BYTE_RATE | CONSUMER_BYTE_RATE => Some(KeyType::Long),
        REQUEST_PERCENTAGE | CONTROLLER_MUTATION_RATE => Some(KeyType::Double),
        _ => None,
    }
}

fn ip_key(key: &str) -> Option<KeyType> {
    (key == CONNECTION_CREATION_RATE).then_some(KeyType::Long)
}

/// Decides one AlterClientQuotas entry against the image: the records to
/// write (only values that change), or the entry's error.
pub fn alter_client_quota(
    image: &MetadataImage,
    alteration: &QuotaAlteration,
) -> Result<Vec<MetadataRecord>, ApiError> {
    let invalid = |m: String| ApiError::new(ResponseError::InvalidRequest, m);
    let entity = validate_entity(&alteration.entity)?;
    let has = |t: &str| entity.contains_key(t);
    let keys: fn(&str) -> Option<KeyType> = match (has(USER), has(CLIENT_ID), has(IP)) {
        (true, _, false) | (false, true, false) => user_or_client_key,
        (false, false, true) => {
            let ip = entity.get(IP).cloned().flatten();
            if let Some(ip) = ip.filter(|ip| ip.parse::<IpAddr>().is_err()) {
                return Err(invalid(format!(
                    "{ip} is not a valid IP or resolvable host."
                )));
            }
            ip_key
        }
        _ => return Err(invalid("Invalid empty client quota entity".into())),
    };
    let current = image.client_quotas.get(&entity);
    let parts: Vec<EntityPart> = entity
        .iter()
        .map(|(t, n)| EntityPart {
            entity_type: t.clone(),
            entity_name: n.clone(),
        })
        .collect();
    let mut records = Vec::new();
    for (key, value) in &alteration.ops {
        let stored = current.and_then(|c| c.get(key)).copied();
        let Some(value) = value else {
            if stored.is_some() {
                records.push(MetadataRecord::ClientQuota {
                    entity: parts.clone(),
                    key: key.clone(),
                    value: QuotaValue(0.0),
                    remove: true,
                });
            }
            continue;
        };
        let kind = keys(key).ok_or_else(|| invalid(format!("Invalid configuration key {key}")))?;
        if kind == KeyType::Long && !is_long(*value) {
            return Err(invalid(format!("Configuration {key} must be a Long value")));
        }
        if stored != Some(QuotaValue(*value)) {
            records.push(MetadataRecord::ClientQuota {
                entity: parts.clone(),
                key: key.clone(),
                value: QuotaValue(*value),
                remove: false,
            });
        }
    }
    Ok(records)
}

/// Whether a double holds a whole number, within Kafka's epsilon.
fn is_long(value: f64) -> bool {
    const EPSILON: f64 = 1e-6;
    ((value + EPSILON).trunc() - value).abs() <= EPSILON
}

fn validate_entity(parts: &[EntityPart]) -> Result<QuotaEntity, ApiError> {
    let invalid = |m: String| ApiError::new(ResponseError::InvalidRequest, m);
    if parts.is_empty() {
        return Err(invalid("Invalid empty client quota entity".into()));
    }
    let mut entity = QuotaEntity::new();
    for p in parts {
        let t = p.entity_type.as_str();
        if entity.contains_key(t) {
            return Err(invalid(format!(
                "Invalid empty client quota entity, duplicate entity entry {t}"
            )));
        }
        if ![USER, CLIENT_ID, IP].contains(&t) {
            return Err(invalid(format!("Unhandled client quota entity type: {t}")));
        }
        if p.entity_name.as_deref() == Some("") {
            return Err(invalid(format!("Empty {t} not supported")));
        }
        entity.insert(t.to_string(), p.entity_name.clone());
    }
    Ok(entity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(t: &str, n: Option<&str>) -> EntityPart {
        EntityPart {
            entity_type: t.into(),
            entity_name: n.map(str::to_string),
        }
    }

    fn alter(
        image: &MetadataImage,
        entity: Vec<EntityPart>,
        ops: &[(&str, Option<f64>)],
    ) -> Result<Vec<MetadataRecord>, ApiError> {
        let ops = ops.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        alter_client_quota(image, &QuotaAlteration { entity, ops })
    }

    fn apply_all(image: &mut MetadataImage, records: &[MetadataRecord]) {
        records.iter().for_each(|r| image.apply(r));
    }

    #[test]
    fn alter_writes_only_changes_and_removals_of_present_keys() {
        let mut image = MetadataImage::default();
        let user = vec![part(USER, Some("alice"))];
        let records = alter(
            &image,
            user.clone(),
            &[
                (PRODUCER_BYTE_RATE, Some(1024.0)),
                (CONSUMER_BYTE_RATE, None),
            ],
        )
        .unwrap();
        assert_eq!(records.len(), 1);
        apply_all(&mut image, &records);
        let entity = entity_of(&user);
        assert_eq!(
            image.client_quotas.get(&entity).unwrap()[PRODUCER_BYTE_RATE],
            QuotaValue(1024.0)
        );
        // Same value again: nothing to write.
        assert!(
            alter(&image, user.clone(), &[(PRODUCER_BYTE_RATE, Some(1024.0))])
                .unwrap()
                .is_empty()
        );
        let records = alter(&image, user.clone(), &[(PRODUCER_BYTE_RATE, None)]).unwrap();
        assert_eq!(records.len(), 1);
        apply_all(&mut image, &records);
        assert!(image.client_quotas.is_empty());
    }

    #[test]
    fn alter_validates_like_kafka() {
        let image = MetadataImage::default();
        let msg = |r: Result<Vec<MetadataRecord>, ApiError>| {
            let e = r.unwrap_err();
            assert_eq!(e.code, ResponseError::InvalidRequest);
            e.message
        };
        assert_eq!(
            msg(alter(&image, vec![], &[])),
            "Invalid empty client quota entity"
        );
        assert_eq!(
            msg(alter(&image, vec![part("group", Some("g"))], &[])),
            "Unhandled client quota entity type: group"
        );
        assert_eq!(
            msg(alter(&image, vec![part(USER, Some(""))], &[])),
            "Empty user not supported"
        );
        assert_eq!(
            msg(alter(
                &image,
                vec![part(USER, Some("a")), part(USER, Some("b"))],
                &[]
            )),
            "Invalid empty client quota entity, duplicate entity entry user"
        );
        assert_eq!(
            msg(alter(
                &image,
                vec![part(USER, Some("a")), part(IP, Some("1.2.3.4"))],
                &[]
            )),
            "Invalid empty client quota entity"
        );
        assert_eq!(
            msg(alter(&image, vec![part(IP, Some("not an ip"))], &[])),
            "not an ip is not a valid IP or resolvable host."
        );
        assert_eq!(
            msg(alter(
                &image,
                vec![part(USER, Some("a"))],
                &[(CONNECTION_CREATION_RATE, Some(1.0))]
            )),
            "Invalid configuration key connection_creation_rate"
        );
        assert_eq!(
            msg(alter(
                &image,
                vec![part(IP, None)],
                &[(PRODUCER_BYTE_RATE, Some(1.0))]
            )),
            "Invalid configuration key producer_byte_rate"
        );
        assert_eq!(
            msg(alter(
                &image,
                vec![part(CLIENT_ID, None)],
                &[(PRODUCER_BYTE_RATE, Some(1.5))]
            )),
            "Configuration producer_byte_rate must be a Long value"
        );
        // Doubles are fine where the key is a double.
        assert!(alter(
            &image,
            vec![part(CLIENT_ID, None)],
            &[(REQUEST_PERCENTAGE, Some(12.5))]
        )
        .is_ok());
        assert!(alter(
            &image,
            vec![part(IP, Some("::1"))],
            &[(CONNECTION_CREATION_RATE, Some(10.0))]
        )
        .is_ok());
    }

    fn image_with(entities: &[Vec<EntityPart>]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for e in entities {
            let records = alter(&image, e.clone(), &[(PRODUCER_BYTE_RATE, Some(100.0))]).unwrap();
            apply_all(&mut image, &records);
        }
        image
    }

    fn filter(t: &str, m: i8, n: Option<&str>) -> FilterComponent {
        FilterComponent {
            entity_type: t.into(),
            match_type: m,
            name: n.map(str::to_string),
        }
    }

    #[test]
    fn describe_matches_strict_and_non_strict() {
        let alice = vec![part(USER, Some("alice"))];
        let alice_c1 = vec![part(USER, Some("alice")), part(CLIENT_ID, Some("c1"))];
        let default_user = vec![part(USER, None)];
        let c1 = vec![part(CLIENT_ID, Some("c1"))];
        let image = image_with(&[
            alice.clone(),
            alice_c1.clone(),
            default_user.clone(),
            c1.clone(),
        ]);
        let q = &image.client_quotas;
        let names =
            |r: Vec<(QuotaEntity, QuotaValues)>| r.into_iter().map(|(e, _)| e).collect::<Vec<_>>();
        let exact_alice = [filter(USER, MATCH_TYPE_EXACT, Some("alice"))];
        assert_eq!(
            names(describe(q, &exact_alice, true).unwrap()),
            vec![entity_of(&alice)]
        );
        let mut loose = names(describe(q, &exact_alice, false).unwrap());
        loose.sort();
        assert_eq!(loose.len(), 2);
        let default = [filter(USER, MATCH_TYPE_DEFAULT, None)];
        assert_eq!(
            names(describe(q, &default, true).unwrap()),
            vec![entity_of(&default_user)]
        );
        let clients = [filter(CLIENT_ID, MATCH_TYPE_SPECIFIED, None)];
        assert_eq!(
            names(describe(q, &clients, true).unwrap()),
            vec![entity_of(&c1)]
        );
        assert_eq!(describe(q, &[], false).unwrap().len(), 4);
        assert!(describe(q, &[], true).unwrap().is_empty());
    }

    #[test]
    fn describe_rejects_bad_filters() {
        let q = ClientQuotas::default();
        let err = |c: &[FilterComponent]| describe(&q, c, false).unwrap_err();
        assert_eq!(
            err(&[filter("", 0, Some("x"))]).message,
            "Invalid empty entity type."
        );
        assert_eq!(
            err(&[filter(USER, 0, Some("x")), filter(USER, 2, None)]).message,
            "Entity type user cannot appear more than once in the filter."
        );
        assert_eq!(
            err(&[filter("topic", 0, Some("x"))]).code,
            ResponseError::UnsupportedVersion
        );
        assert_eq!(
            err(&[filter(USER, MATCH_TYPE_EXACT, None)]).message,
            "Request specified MATCH_TYPE_EXACT, but set match string to null."
        );
        assert_eq!(
            err(&[filter(USER, 7, None)]).message,
            "Unknown match type 7"
        );
        assert!(err(&[filter(IP, 1, None), filter(USER, 1, None)])
            .message
            .starts_with("Invalid entity filter component combination"));
    }

    #[test]
    fn whole_numbers_within_epsilon_are_longs() {
        assert!(is_long(1024.0));
        assert!(is_long(1024.0000000001));
        assert!(!is_long(1024.5));
        assert!(!is_long(0.01));
    }
}
