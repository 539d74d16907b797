//! IncrementalAlterConfigs decisions for topics: SET, DELETE, APPEND, SUBTRACT.

use std::collections::BTreeSet;

use gregor_protocol::kafka_protocol::ResponseError;

use super::ApiError;
use crate::configs::{self, ConfigType};
use crate::image::MetadataImage;
use crate::records::{ConfigResource, MetadataRecord};

/// One requested change, as IncrementalAlterConfigs carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterOp {
    Set,
    Delete,
    Append,
    Subtract,
}

impl AlterOp {
    /// The protocol's operation codes.
    pub fn from_code(code: i8) -> Option<AlterOp> {
        Some(match code {
            0 => AlterOp::Set,
            1 => AlterOp::Delete,
            2 => AlterOp::Append,
            3 => AlterOp::Subtract,
            _ => return None,
        })
    }
}

/// Decides a topic's IncrementalAlterConfigs entry: the config records that
/// bring its overrides to the requested state.
pub fn alter_topic_configs(
    image: &MetadataImage,
    topic: &str,
    changes: &[(String, AlterOp, Option<String>)],
) -> Result<Vec<MetadataRecord>, ApiError> {
    let invalid = |m: String| Err(ApiError::new(ResponseError::InvalidConfig, m));
    let t = image.topic(topic).ok_or_else(|| {
        ApiError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("Topic {topic} does not exist"),
        )
    })?;
    let mut seen = BTreeSet::new();
    if changes.iter().any(|(k, _, _)| !seen.insert(k.as_str())) {
        return Err(ApiError::new(
            ResponseError::InvalidRequest,
            "Error due to duplicate config keys",
        ));
    }
    let mut records = Vec::new();
    for (key, op, value) in changes {
        let Some(def) = configs::topic_config(key) else {
            return invalid(format!("Unknown topic config name: {key}"));
        };
        let is_list = def.def.ty == ConfigType::List;
        let new_value = match op {
            AlterOp::Delete => None,
            AlterOp::Set => match value {
                Some(v) => Some(v.clone()),
                None => return invalid(format!("Null value not supported for : {key}")),
            },
            AlterOp::Append | AlterOp::Subtract if !is_list => {
                let verb = if *op == AlterOp::Append {
                    "append"
                } else {
                    "subtract"
                };
                return invalid(format!(
                    "Config value {verb} is not allowed for config key: {key}"
                ));
            }
            AlterOp::Append | AlterOp::Subtract => {
                // Kafka starts from the override if there is one, else the default.
                let current = t
                    .configs
                    .get(key.as_str())
                    .map(String::as_str)
                    .or(def.def.default)
                    .unwrap_or("");
                let mut items: Vec<String> = split_list(current);
                let given = split_list(value.as_deref().unwrap_or(""));
                if *op == AlterOp::Append {
                    given.into_iter().for_each(|g| {
                        if !items.contains(&g) {
                            items.push(g);
                        }
                    });
                } else {
                    items.retain(|i| !given.contains(i));
                }
                Some(items.join(","))
            }
        };
        if let Some(v) = &new_value {
            configs::validate(&def.def, v)
                .map_err(|e| ApiError::new(ResponseError::InvalidConfig, e.to_string()))?;
        }
        records.push(MetadataRecord::Config {
            resource: ConfigResource::Topic,
            resource_name: topic.to_string(),
            name: key.clone(),
            value: new_value,
        });
    }
    Ok(records)
}

fn split_list(s: &str) -> Vec<String> {
    configs::parse_list(s)
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::{create_topic, ClusterContext, NewTopic};

    fn image_with(topic: &str) -> MetadataImage {
        let mut image = MetadataImage::default();
        let ctx = ClusterContext {
            broker_ids: vec![1],
            default_partitions: 1,
            default_replication_factor: 1,
        };
        let req = NewTopic {
            name: topic.into(),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        };
        create_topic(&image, &ctx, &req)
            .unwrap()
            .records
            .iter()
            .for_each(|r| image.apply(r));
        image
    }

    fn apply(
        image: &mut MetadataImage,
        changes: &[(&str, AlterOp, Option<&str>)],
    ) -> Result<(), ApiError> {
        let changes: Vec<_> = changes
            .iter()
            .map(|(k, o, v)| (k.to_string(), *o, v.map(str::to_string)))
            .collect();
        alter_topic_configs(image, "t", &changes)?
            .iter()
            .for_each(|r| image.apply(r));
        Ok(())
    }

    #[test]
    fn set_append_subtract_delete() {
        let mut image = image_with("t");
        apply(
            &mut image,
            &[("cleanup.policy", AlterOp::Append, Some("compact"))],
        )
        .unwrap();
        assert_eq!(
            image.topic("t").unwrap().configs["cleanup.policy"],
            "delete,compact"
        );
        apply(
            &mut image,
            &[("cleanup.policy", AlterOp::Subtract, Some("delete"))],
        )
        .unwrap();
        assert_eq!(
            image.topic("t").unwrap().configs["cleanup.policy"],
            "compact"
        );
        apply(&mut image, &[("retention.ms", AlterOp::Set, Some("1000"))]).unwrap();
        apply(&mut image, &[("retention.ms", AlterOp::Delete, None)]).unwrap();
        assert!(!image
            .topic("t")
            .unwrap()
            .configs
            .contains_key("retention.ms"));
    }

    #[test]
    fn refuses_bad_requests() {
        let mut image = image_with("t");
        let code = |r: Result<(), ApiError>| r.unwrap_err().code;
        assert_eq!(
            code(apply(&mut image, &[("nope", AlterOp::Set, Some("1"))])),
            ResponseError::InvalidConfig
        );
        assert_eq!(
            code(apply(
                &mut image,
                &[("retention.ms", AlterOp::Set, Some("x"))]
            )),
            ResponseError::InvalidConfig
        );
        assert_eq!(
            code(apply(
                &mut image,
                &[("retention.ms", AlterOp::Append, Some("1"))]
            )),
            ResponseError::InvalidConfig
        );
        assert_eq!(
            code(apply(
                &mut image,
                &[
                    ("retention.ms", AlterOp::Set, Some("1")),
                    ("retention.ms", AlterOp::Delete, None)
                ]
            )),
            ResponseError::InvalidRequest
        );
        assert!(alter_topic_configs(&image, "missing", &[]).is_err());
    }
}
