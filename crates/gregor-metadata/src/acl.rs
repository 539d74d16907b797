//! ACLs as Kafka models them: a resource pattern (type, name, pattern type)
//! and an entry (principal, host, operation, permission), with Kafka's wire
//! codes, the filters DescribeAcls and DeleteAcls match with, and the
//! validation the controller applies to a new ACL.

use serde::{Deserialize, Serialize};

/// The one resource name a CLUSTER ACL may have.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// A LITERAL resource name, principal or host that matches every value.
pub const WILDCARD: &str = "*";
/// The principal of a connection that did not authenticate.
pub const ANONYMOUS: &str = "User:ANONYMOUS";

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            /// Kafka's wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code),* }
            }

            /// The value for a wire code; codes this version does not know
            /// are UNKNOWN, as in Kafka.
            pub fn from_code(code: i8) -> $name {
                match code { $($code => $name::$variant,)* _ => $name::Unknown }
            }
        }
    };
}

wire_enum!(
    /// Kafka's `ResourceType`.
    ResourceType {
        Unknown = 0, Any = 1, Topic = 2, Group = 3, Cluster = 4,
        TransactionalId = 5, DelegationToken = 6, User = 7,
    }
);

wire_enum!(
    /// Kafka's `PatternType`: LITERAL and PREFIXED are stored; ANY and MATCH
    /// appear only in filters.
    PatternType { Unknown = 0, Any = 1, Match = 2, Literal = 3, Prefixed = 4 }
);

wire_enum!(
    /// Kafka's `AclOperation`.
    AclOperation {
        Unknown = 0, Any = 1, All = 2, Read = 3, Write = 4, Create = 5, Delete = 6,
        Alter = 7, Describe = 8, ClusterAction = 9, DescribeConfigs = 10,
        AlterConfigs = 11, IdempotentWrite = 12, CreateTokens = 13, DescribeTokens = 14,
    }
);

wire_enum!(
    /// Kafka's `AclPermissionType`.
    AclPermission { Unknown = 0, Any = 1, Deny = 2, Allow = 3 }
);

impl AclOperation {
    /// Bit of this operation in an authorized-operations field.
    pub fn bit(self) -> i32 {
        1 << self.code()
    }
}

/// One stored ACL: who may or may not do what to which resources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern_type: PatternType,
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

/// A DescribeAcls or DeleteAcls filter; `None` strings match anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: ResourceType,
    pub resource_name: Option<String>,
    pub pattern_type: PatternType,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

impl AclFilter {
    /// A filter that matches every ACL.
    pub fn any() -> AclFilter {
        AclFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// Kafka refuses filters with a component it cannot interpret.
    pub fn is_unknown(&self) -> bool {
        self.resource_type == ResourceType::Unknown
            || self.pattern_type == PatternType::Unknown
            || self.operation == AclOperation::Unknown
            || self.permission == AclPermission::Unknown
    }

    /// Kafka's `AclBindingFilter.matches`: the resource pattern filter (MATCH
    /// also takes the wildcard and prefixes that would apply to the named
    /// resource) and the entry filter.
    pub fn matches(&self, acl: &AclBinding) -> bool {
        self.matches_pattern(acl) && self.matches_entry(acl)
    }

    fn matches_pattern(&self, acl: &AclBinding) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != acl.resource_type {
            return false;
        }
        let any_pattern = matches!(self.pattern_type, PatternType::Any | PatternType::Match);
        if !any_pattern && self.pattern_type != acl.pattern_type {
            return false;
        }
        let Some(name) = &self.resource_name else {
            return true;
        };
        if self.pattern_type == PatternType::Any || self.pattern_type == acl.pattern_type {
            return *name == acl.resource_name;
        }
        match acl.pattern_type {
            PatternType::Literal => *name == acl.resource_name || acl.resource_name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&acl.resource_name),
            _ => false,
        }
    }

    fn matches_entry(&self, acl: &AclBinding) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == acl.principal)
            && self.host.as_ref().is_none_or(|h| *h == acl.host)
            && (self.operation == AclOperation::Any || self.operation == acl.operation)
            && (self.permission == AclPermission::Any || self.permission == acl.permission)
    }
}

/// Why a new ACL is refused (Kafka answers INVALID_REQUEST with this text).
pub fn validate_new_acl(acl: &AclBinding) -> Result<(), String> {
    if matches!(acl.resource_type, ResourceType::Unknown | ResourceType::Any) {
        return Err(format!("Invalid resourceType {:?}", acl.resource_type));
    }
    if !matches!(
        acl.pattern_type,
        PatternType::Literal | PatternType::Prefixed
    ) {
        return Err(format!("Invalid patternType {:?}", acl.pattern_type));
    }
    if matches!(acl.operation, AclOperation::Unknown | AclOperation::Any) {
        return Err(format!("Invalid operation {:?}", acl.operation));
    }
    if !matches!(acl.permission, AclPermission::Allow | AclPermission::Deny) {
        return Err(format!("Invalid permissionType {:?}", acl.permission));
    }
    if acl.resource_type == ResourceType::Cluster && acl.resource_name != CLUSTER_NAME {
        return Err(format!(
            "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
        ));
    }
    if acl.resource_name.is_empty() {
        return Err("Invalid empty resource name specified.".into());
    }
    match acl.principal.split_once(':') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(()),
        _ => Err(format!(
            "Could not parse principal from `{}` (no colon is present separating the principal type from the principal name)",
            acl.principal
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn acl(rt: ResourceType, name: &str, pt: PatternType) -> AclBinding {
        AclBinding {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: pt,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermission::Allow,
        }
    }

    #[test]
    fn codes_round_trip_and_unknown_codes_are_unknown() {
        assert_eq!(ResourceType::from_code(2), ResourceType::Topic);
        assert_eq!(ResourceType::from_code(99), ResourceType::Unknown);
        assert_eq!(AclOperation::IdempotentWrite.code(), 12);
        assert_eq!(AclOperation::from_code(14), AclOperation::DescribeTokens);
        assert_eq!(AclPermission::from_code(3), AclPermission::Allow);
        assert_eq!(PatternType::from_code(4), PatternType::Prefixed);
    }

    #[test]
    fn match_filter_takes_literal_wildcard_and_prefixes() {
        let literal = acl(ResourceType::Topic, "orders", PatternType::Literal);
        let wildcard = acl(ResourceType::Topic, "*", PatternType::Literal);
        let prefix = acl(ResourceType::Topic, "ord", PatternType::Prefixed);
        let other = acl(ResourceType::Topic, "payments", PatternType::Literal);
        let group = acl(ResourceType::Group, "orders", PatternType::Literal);
        let f = AclFilter {
            resource_type: ResourceType::Topic,
            resource_name: Some("orders".into()),
            pattern_type: PatternType::Match,
            ..AclFilter::any()
        };
        assert!(f.matches(&literal) && f.matches(&wildcard) && f.matches(&prefix));
        assert!(!f.matches(&other) && !f.matches(&group));
        // ANY pattern: exact name, any pattern type; no wildcard expansion.
        let any = AclFilter {
            pattern_type: PatternType::Any,
            ..f.clone()
        };
        assert!(any.matches(&literal) && !any.matches(&wildcard) && !any.matches(&prefix));
        // A specific pattern type matches only itself.
        let pre = AclFilter {
            resource_name: Some("ord".into()),
            pattern_type: PatternType::Prefixed,
            ..f
        };
        assert!(pre.matches(&prefix) && !pre.matches(&literal));
    }

    #[test]
    fn entry_filter_compares_principal_host_operation_permission() {
        let a = acl(ResourceType::Topic, "t", PatternType::Literal);
        let mut f = AclFilter::any();
        assert!(f.matches(&a));
        f.principal = Some("User:bob".into());
        assert!(!f.matches(&a));
        f.principal = Some("User:alice".into());
        f.operation = AclOperation::Write;
        assert!(!f.matches(&a));
        f.operation = AclOperation::Read;
        f.permission = AclPermission::Deny;
        assert!(!f.matches(&a));
        f.permission = AclPermission::Allow;
        f.host = Some("10.0.0.1".into());
        assert!(!f.matches(&a));
    }

    #[test]
    fn new_acls_are_validated_like_kafka() {
        let ok = acl(ResourceType::Topic, "t", PatternType::Literal);
        assert!(validate_new_acl(&ok).is_ok());
        let bad = |f: fn(&mut AclBinding)| {
            let mut a = ok.clone();
            f(&mut a);
            validate_new_acl(&a).unwrap_err()
        };
        assert!(bad(|a| a.resource_type = ResourceType::Any).contains("resourceType"));
        assert!(bad(|a| a.pattern_type = PatternType::Match).contains("patternType"));
        assert!(bad(|a| a.operation = AclOperation::Any).contains("operation"));
        assert!(bad(|a| a.permission = AclPermission::Any).contains("permissionType"));
        assert!(bad(|a| a.resource_name.clear()).contains("empty resource name"));
        assert!(bad(|a| a.principal = "alice".into()).contains("principal"));
        assert!(bad(|a| {
            a.resource_type = ResourceType::Cluster;
            a.resource_name = "c".into();
        })
        .contains("kafka-cluster"));
    }
}
