//! Kafka's StandardAuthorizer rules, as a pure function of the stored ACLs.
//!
//! A request is allowed when the principal is a super user, or when no
//! matching DENY exists and a matching ALLOW does. An ACL applies to a
//! resource when its pattern is the LITERAL name, the LITERAL wildcard `*`,
//! or a PREFIXED prefix of the name; its principal is the requester or
//! `User:*`; its host is the requester's or `*`; and its operation is the
//! one asked, ALL, or (for ALLOW only) one that implies it: READ, WRITE,
//! DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS.
//! A resource without any ACL at all is open only when
//! `allow.everyone.if.no.acl.found` is true.

use crate::acl::{AclBinding, AclOperation, AclPermission, PatternType, ResourceType, WILDCARD};

/// The authorizer's settings (`super.users`, `allow.everyone.if.no.acl.found`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerConfig {
    pub super_users: Vec<String>,
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizerConfig {
    /// Parses `super.users`: principals separated by semicolons.
    pub fn new(super_users: Option<&str>, allow_everyone_if_no_acl_found: bool) -> Self {
        let super_users = super_users
            .unwrap_or("")
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        AuthorizerConfig {
            super_users,
            allow_everyone_if_no_acl_found,
        }
    }
}

/// Who is asking: `User:name` and the client's address.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub principal: &'a str,
    pub host: &'a str,
}

/// Whether `who` may perform `op` on the resource `(rtype, name)`.
pub fn authorize<'a>(
    config: &AuthorizerConfig,
    acls: impl IntoIterator<Item = &'a AclBinding>,
    who: Requester<'_>,
    op: AclOperation,
    rtype: ResourceType,
    name: &str,
) -> bool {
    if config.super_users.iter().any(|s| s == who.principal) {
        return true;
    }
    let mut resource_has_acls = false;
    let mut allowed = false;
    for acl in acls {
        if !applies_to_resource(acl, rtype, name) {
            continue;
        }
        resource_has_acls = true;
        if !applies_to_requester(acl, who) {
            continue;
        }
        match acl.permission {
            AclPermission::Deny if acl.operation == op || acl.operation == AclOperation::All => {
                return false;
            }
            AclPermission::Allow if grants(acl.operation, op) => allowed = true,
            _ => {}
        }
    }
    allowed || (!resource_has_acls && config.allow_everyone_if_no_acl_found)
}

/// Kafka's `authorizeByResourceType`: whether `who` may perform `op` on at
/// least one resource of type `rtype`, named or not yet existing. Used where
/// Kafka asks "may this principal WRITE to some topic" (an idempotent
/// producer's InitProducerId).
///
/// Whatever `authorize` allows for an arbitrary name decides first (super
/// users, and `allow.everyone.if.no.acl.found` when no ACL covers that
/// name). Otherwise only ACLs of this principal (or `User:*`) and host whose
/// operation is `op` itself or ALL count (no implication here, as in
/// Kafka): a LITERAL `*` DENY refuses; a LITERAL `*` ALLOW grants; and any
/// other ALLOW grants unless a DENY of the same literal name, or a PREFIXED
/// DENY on one of its prefixes, covers it.
pub fn authorize_by_resource_type<'a>(
    config: &AuthorizerConfig,
    acls: impl IntoIterator<Item = &'a AclBinding> + Clone,
    who: Requester<'_>,
    op: AclOperation,
    rtype: ResourceType,
) -> bool {
    /// A name no ACL is expected to match literally, standing for "some
    /// resource of this type" (the one Kafka uses).
    const ANY_NAME: &str = "hardcode";
    if authorize(config, acls.clone(), who, op, rtype, ANY_NAME) {
        return true;
    }
    let relevant = acls.into_iter().filter(|acl| {
        acl.resource_type == rtype
            && applies_to_requester(acl, who)
            && (acl.operation == op || acl.operation == AclOperation::All)
    });
    let mut denied_literal = Vec::new();
    let mut denied_prefixes = Vec::new();
    let mut allowed: Vec<&AclBinding> = Vec::new();
    for acl in relevant {
        let name = acl.resource_name.as_str();
        match (acl.permission, acl.pattern_type) {
            (AclPermission::Deny, PatternType::Literal) if name == WILDCARD => return false,
            (AclPermission::Deny, PatternType::Literal) => denied_literal.push(name),
            (AclPermission::Deny, PatternType::Prefixed) => denied_prefixes.push(name),
            (AclPermission::Allow, PatternType::Literal | PatternType::Prefixed) => {
                allowed.push(acl)
            }
            _ => {}
        }
    }
    if allowed
        .iter()
        .any(|a| a.pattern_type == PatternType::Literal && a.resource_name == WILDCARD)
    {
        return true;
    }
    allowed.iter().any(|a| {
        let name = a.resource_name.as_str();
        let literal_denied =
            a.pattern_type == PatternType::Literal && denied_literal.contains(&name);
        let prefix_denied = denied_prefixes.iter().any(|p| name.starts_with(p));
        !literal_denied && !prefix_denied
    })
}

/// The authorized-operations bit field of `ops` on one resource.
pub fn authorized_operations(
    config: &AuthorizerConfig,
    acls: &[&AclBinding],
    who: Requester<'_>,
    rtype: ResourceType,
    name: &str,
    ops: &[AclOperation],
) -> i32 {
    ops.iter()
        .filter(|op| authorize(config, acls.iter().copied(), who, **op, rtype, name))
        .fold(0, |bits, op| bits | op.bit())
}

fn applies_to_resource(acl: &AclBinding, rtype: ResourceType, name: &str) -> bool {
    acl.resource_type == rtype
        && match acl.pattern_type {
            PatternType::Literal => acl.resource_name == name || acl.resource_name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&acl.resource_name),
            _ => false,
        }
}

fn applies_to_requester(acl: &AclBinding, who: Requester<'_>) -> bool {
    (acl.principal == who.principal || acl.principal == "User:*")
        && (acl.host == who.host || acl.host == WILDCARD)
}

/// Whether an ALLOW of `granted` permits `wanted`.
fn grants(granted: AclOperation, wanted: AclOperation) -> bool {
    use AclOperation::*;
    granted == wanted
        || granted == All
        || (wanted == Describe && matches!(granted, Read | Write | Delete | Alter))
        || (wanted == DescribeConfigs && granted == AlterConfigs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use AclOperation::*;

    fn acl(
        name: &str,
        pattern: PatternType,
        principal: &str,
        host: &str,
        op: AclOperation,
        perm: AclPermission,
    ) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: principal.into(),
            host: host.into(),
            operation: op,
            permission: perm,
        }
    }

    const ALICE: Requester<'static> = Requester {
        principal: "User:alice",
        host: "10.0.0.1",
    };

    fn can(config: &AuthorizerConfig, acls: &[AclBinding], op: AclOperation, topic: &str) -> bool {
        authorize(config, acls, ALICE, op, ResourceType::Topic, topic)
    }

    #[test]
    fn no_acls_follow_allow_everyone_if_no_acl_found() {
        let closed = AuthorizerConfig::new(None, false);
        let open = AuthorizerConfig::new(None, true);
        assert!(!can(&closed, &[], Read, "t"));
        assert!(can(&open, &[], Read, "t"));
        // An ACL for someone else on the resource closes it even when open.
        let bob = acl(
            "t",
            PatternType::Literal,
            "User:bob",
            "*",
            Read,
            AclPermission::Allow,
        );
        assert!(!can(&open, std::slice::from_ref(&bob), Read, "t"));
        // ... but not other resources.
        assert!(can(&open, &[bob], Read, "u"));
    }

    #[test]
    fn deny_wins_over_allow() {
        let c = AuthorizerConfig::default();
        let acls = [
            acl(
                "t",
                PatternType::Literal,
                "User:alice",
                "*",
                All,
                AclPermission::Allow,
            ),
            acl(
                "t",
                PatternType::Prefixed,
                "User:*",
                "*",
                Write,
                AclPermission::Deny,
            ),
        ];
        assert!(can(&c, &acls, Read, "t"));
        assert!(!can(&c, &acls, Write, "t"));
        // The prefixed DENY covers "t…" names only; "u" has no ACL and stays closed.
        assert!(!can(&c, &acls, Read, "u"));
    }

    #[test]
    fn super_users_bypass_acls() {
        let c = AuthorizerConfig::new(Some("User:admin; User:alice"), false);
        assert_eq!(c.super_users, vec!["User:admin", "User:alice"]);
        let deny = [acl(
            "t",
            PatternType::Literal,
            "User:alice",
            "*",
            All,
            AclPermission::Deny,
        )];
        assert!(can(&c, &deny, Write, "t"));
    }

    #[test]
    fn wildcard_and_prefixed_resources_apply() {
        let c = AuthorizerConfig::default();
        let star = [acl(
            "*",
            PatternType::Literal,
            "User:alice",
            "*",
            Read,
            AclPermission::Allow,
        )];
        assert!(can(&c, &star, Read, "anything"));
        let prefixed = [acl(
            "ord",
            PatternType::Prefixed,
            "User:alice",
            "*",
            Read,
            AclPermission::Allow,
        )];
        assert!(can(&c, &prefixed, Read, "orders"));
        assert!(!can(&c, &prefixed, Read, "payments"));
        // A LITERAL name is not a prefix.
        let literal = [acl(
            "ord",
            PatternType::Literal,
            "User:alice",
            "*",
            Read,
            AclPermission::Allow,
        )];
        assert!(!can(&c, &literal, Read, "orders"));
    }

    #[test]
    fn principal_and_host_must_match() {
        let c = AuthorizerConfig::default();
        let other_host = [acl(
            "t",
            PatternType::Literal,
            "User:alice",
            "10.0.0.2",
            Read,
            AclPermission::Allow,
        )];
        assert!(!can(&c, &other_host, Read, "t"));
        let this_host = [acl(
            "t",
            PatternType::Literal,
            "User:alice",
            "10.0.0.1",
            Read,
            AclPermission::Allow,
        )];
        assert!(can(&c, &this_host, Read, "t"));
        let everyone = [acl(
            "t",
            PatternType::Literal,
            "User:*",
            "*",
            Read,
            AclPermission::Allow,
        )];
        assert!(can(&c, &everyone, Read, "t"));
    }

    #[test]
    fn implied_operations_only_for_allow() {
        let c = AuthorizerConfig::default();
        for op in [Read, Write, Delete, Alter] {
            let a = [acl(
                "t",
                PatternType::Literal,
                "User:alice",
                "*",
                op,
                AclPermission::Allow,
            )];
            assert!(can(&c, &a, Describe, "t"), "{op:?} implies DESCRIBE");
        }
        let a = [acl(
            "t",
            PatternType::Literal,
            "User:alice",
            "*",
            AlterConfigs,
            AclPermission::Allow,
        )];
        assert!(can(&c, &a, DescribeConfigs, "t"));
        assert!(!can(&c, &a, Describe, "t"));
        // A DENY of READ does not deny DESCRIBE.
        let a = [
            acl(
                "t",
                PatternType::Literal,
                "User:alice",
                "*",
                Describe,
                AclPermission::Allow,
            ),
            acl(
                "t",
                PatternType::Literal,
                "User:alice",
                "*",
                Read,
                AclPermission::Deny,
            ),
        ];
        assert!(can(&c, &a, Describe, "t"));
        assert!(!can(&c, &a, Read, "t"));
    }

    #[test]
    fn authorized_operations_collects_bits() {
        let c = AuthorizerConfig::default();
        let a = [acl(
            "t",
            PatternType::Literal,
            "User:alice",
            "*",
            Write,
            AclPermission::Allow,
        )];
        let refs: Vec<&AclBinding> = a.iter().collect();
        let bits = authorized_operations(
            &c,
            &refs,
            ALICE,
            ResourceType::Topic,
            "t",
            &[Read, Write, Describe],
        );
        assert_eq!(bits, Write.bit() | Describe.bit());
    }

    #[test]
    fn by_resource_type_needs_one_resource_not_covered_by_a_deny() {
        let closed = AuthorizerConfig::new(None, false);
        let open = AuthorizerConfig::new(None, true);
        let by_type = |config: &AuthorizerConfig, acls: &[AclBinding]| {
            authorize_by_resource_type(config, acls.iter(), ALICE, Write, ResourceType::Topic)
        };
        // No ACLs: allow.everyone.if.no.acl.found decides.
        assert!(!by_type(&closed, &[]));
        assert!(by_type(&open, &[]));
        // A wildcard DENY on every topic refuses even with allow.everyone.
        let deny_all = acl(
            "*",
            PatternType::Literal,
            "User:*",
            "*",
            Write,
            AclPermission::Deny,
        );
        assert!(!by_type(&open, std::slice::from_ref(&deny_all)));
        // One literal ALLOW is enough...
        let orders = acl(
            "orders",
            PatternType::Literal,
            "User:alice",
            "*",
            Write,
            AclPermission::Allow,
        );
        assert!(by_type(&closed, std::slice::from_ref(&orders)));
        // ...unless the same name or a prefix of it is denied.
        let deny_orders = acl(
            "orders",
            PatternType::Literal,
            "User:alice",
            "*",
            All,
            AclPermission::Deny,
        );
        assert!(!by_type(&closed, &[orders.clone(), deny_orders]));
        let deny_ord = acl(
            "ord",
            PatternType::Prefixed,
            "User:*",
            "*",
            Write,
            AclPermission::Deny,
        );
        assert!(!by_type(&closed, &[orders.clone(), deny_ord.clone()]));
        // A prefixed ALLOW not under the denied prefix still grants.
        let logs = acl(
            "logs-",
            PatternType::Prefixed,
            "User:alice",
            "*",
            Write,
            AclPermission::Allow,
        );
        assert!(by_type(&closed, &[orders.clone(), deny_ord, logs]));
        // Only the asked operation (or ALL) counts: READ does not grant WRITE.
        let read = acl(
            "orders",
            PatternType::Literal,
            "User:alice",
            "*",
            Read,
            AclPermission::Allow,
        );
        assert!(!by_type(&closed, &[read]));
        // Another principal's ALLOW does not count; a super user always may.
        let bob = acl(
            "*",
            PatternType::Literal,
            "User:bob",
            "*",
            Write,
            AclPermission::Allow,
        );
        assert!(!by_type(&closed, std::slice::from_ref(&bob)));
        let su = AuthorizerConfig::new(Some("User:alice"), false);
        assert!(by_type(&su, &[deny_all]));
    }
}
