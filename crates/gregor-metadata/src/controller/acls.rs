//! CreateAcls and DeleteAcls decisions (Kafka's AclControlManager).

use std::collections::BTreeSet;

use gregor_protocol::kafka_protocol::ResponseError;
use uuid::Uuid;

use super::ApiError;
use crate::acl::{validate_new_acl, AclBinding, AclFilter};
use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// Records for the valid new ACLs and one result per creation, in order.
/// An ACL that already exists (or repeats an earlier creation) succeeds
/// without a second record, as in Kafka.
pub fn create_acls(
    image: &MetadataImage,
    creations: &[AclBinding],
) -> (Vec<MetadataRecord>, Vec<Result<(), ApiError>>) {
    let mut present: BTreeSet<&AclBinding> = image.acls().map(|(_, a)| a).collect();
    let mut records = Vec::new();
    let results = creations
        .iter()
        .map(|acl| {
            validate_new_acl(acl).map_err(|m| ApiError::new(ResponseError::InvalidRequest, m))?;
            if present.insert(acl) {
                records.push(MetadataRecord::Acl {
                    id: Uuid::new_v4(),
                    acl: acl.clone(),
                });
            }
            Ok(())
        })
        .collect();
    (records, results)
}

/// Records removing every ACL any filter matches, and per filter the ACLs
/// it matched (an ACL matched by several filters is listed under each and
/// removed once).
pub fn delete_acls(
    image: &MetadataImage,
    filters: &[AclFilter],
) -> (Vec<MetadataRecord>, Vec<Result<Vec<AclBinding>, ApiError>>) {
    let mut removed = BTreeSet::new();
    let mut records = Vec::new();
    let results = filters
        .iter()
        .map(|filter| {
            validate_filter(filter)?;
            let mut matched = Vec::new();
            for (id, acl) in image.acls().filter(|(_, a)| filter.matches(a)) {
                if removed.insert(*id) {
                    records.push(MetadataRecord::RemoveAcl { id: *id });
                }
                matched.push(acl.clone());
            }
            Ok(matched)
        })
        .collect();
    (records, results)
}

/// The ACLs a DescribeAcls filter matches, sorted by resource pattern.
pub fn describe_acls(
    image: &MetadataImage,
    filter: &AclFilter,
) -> Result<Vec<AclBinding>, ApiError> {
    validate_filter(filter)?;
    let mut acls: Vec<AclBinding> = image
        .acls()
        .map(|(_, a)| a)
        .filter(|a| filter.matches(a))
        .cloned()
        .collect();
    acls.sort();
    Ok(acls)
}

fn validate_filter(filter: &AclFilter) -> Result<(), ApiError> {
    if filter.is_unknown() {
        return Err(ApiError::new(
            ResponseError::InvalidRequest,
            "The filter contains an unknown element.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{AclOperation, AclPermission, PatternType, ResourceType};

    fn acl(name: &str, op: AclOperation) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.into(),
            pattern_type: PatternType::Literal,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: op,
            permission: AclPermission::Allow,
        }
    }

    fn apply(image: &mut MetadataImage, records: &[MetadataRecord]) {
        for r in records {
            image.apply(r);
        }
    }

    #[test]
    fn create_validates_each_acl_and_skips_duplicates() {
        let mut image = MetadataImage::default();
        let mut bad = acl("t", AclOperation::Read);
        bad.principal = "alice".into();
        let (records, results) = create_acls(
            &image,
            &[
                acl("t", AclOperation::Read),
                bad,
                acl("t", AclOperation::Read),
            ],
        );
        assert_eq!(records.len(), 1);
        assert!(results[0].is_ok() && results[2].is_ok());
        assert_eq!(
            results[1].as_ref().unwrap_err().code,
            ResponseError::InvalidRequest
        );
        apply(&mut image, &records);
        let (again, results) = create_acls(&image, &[acl("t", AclOperation::Read)]);
        assert!(again.is_empty() && results[0].is_ok());
    }

    #[test]
    fn delete_removes_matches_once_and_reports_per_filter() {
        let mut image = MetadataImage::default();
        let (records, _) = create_acls(
            &image,
            &[acl("a", AclOperation::Read), acl("b", AclOperation::Write)],
        );
        apply(&mut image, &records);
        let read = AclFilter {
            operation: AclOperation::Read,
            ..AclFilter::any()
        };
        let unknown = AclFilter {
            pattern_type: PatternType::Unknown,
            ..AclFilter::any()
        };
        let (records, results) = delete_acls(&image, &[read, AclFilter::any(), unknown]);
        assert_eq!(records.len(), 2, "a once, b once");
        assert_eq!(
            results[0].as_ref().unwrap(),
            &vec![acl("a", AclOperation::Read)]
        );
        assert_eq!(results[1].as_ref().unwrap().len(), 2);
        assert_eq!(
            results[2].as_ref().unwrap_err().code,
            ResponseError::InvalidRequest
        );
        apply(&mut image, &records);
        assert!(describe_acls(&image, &AclFilter::any()).unwrap().is_empty());
    }
}
