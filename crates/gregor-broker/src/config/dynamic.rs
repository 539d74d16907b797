//! Dynamic broker configs: the values set at run time with
//! IncrementalAlterConfigs/AlterConfigs on BROKER resources, stored as
//! metadata `Config` records and copied here from the image after every
//! metadata change (and after the replay at start).
//!
//! Precedence, as Kafka's `DynamicBrokerConfig`: this broker's own dynamic
//! value, then the cluster-wide dynamic default (resource name `""`), then
//! the static value from server.properties, then the built-in default.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The two dynamic layers. Owned by [`super::BrokerConfig`] behind a lock
/// because the rest of the config is shared read-only; written only by the
/// metadata commit path, read by any task.
#[derive(Clone, Default)]
pub struct DynamicLayers {
    /// Set for this broker id.
    pub per_broker: BTreeMap<String, String>,
    /// Set for the cluster default (`""`).
    pub cluster_default: BTreeMap<String, String>,
}

impl std::fmt::Debug for DynamicLayers {
    // Keys only: dynamic values may be passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicLayers")
            .field("per_broker", &self.per_broker.keys().collect::<Vec<_>>())
            .field(
                "cluster_default",
                &self.cluster_default.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The shared, swappable dynamic layers.
#[derive(Debug, Clone, Default)]
pub struct SharedDynamic(Arc<RwLock<DynamicLayers>>);

impl SharedDynamic {
    pub fn get(&self) -> DynamicLayers {
        self.0.read().expect("dynamic config lock").clone()
    }

    pub fn set(&self, layers: DynamicLayers) {
        *self.0.write().expect("dynamic config lock") = layers;
    }

    /// This broker's dynamic value of `key`, else the cluster default's,
    /// with whether it was the per-broker one.
    pub fn value(&self, key: &str) -> Option<(String, bool)> {
        let layers = self.0.read().expect("dynamic config lock");
        if let Some(v) = layers.per_broker.get(key) {
            return Some((v.clone(), true));
        }
        layers.cluster_default.get(key).map(|v| (v.clone(), false))
    }
}
