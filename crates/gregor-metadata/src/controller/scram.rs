//! AlterUserScramCredentials decisions (Kafka's ScramControlManager).

use std::collections::BTreeMap;

use gregor_protocol::kafka_protocol::ResponseError;

use super::ApiError;
use crate::image::MetadataImage;
use crate::records::MetadataRecord;
use crate::scram::{ScramCredential, ScramMechanism, ITERATIONS_MAX, ITERATIONS_MIN};

/// One deletion (`upsert: None`) or upsertion from the request.
#[derive(Debug, Clone)]
pub struct ScramAlteration {
    pub user: String,
    /// The wire code; unknown codes are refused.
    pub mechanism: i8,
    pub upsert: Option<ScramUpsert>,
}

#[derive(Debug, Clone)]
pub struct ScramUpsert {
    pub iterations: i32,
    pub salt: Vec<u8>,
    pub salted_password: Vec<u8>,
}

/// One user's answer: its name and whether its alteration was applied.
pub type UserResult = (String, Result<(), ApiError>);

/// Records for the valid alterations and one result per user, in the order
/// users first appear. A user altered twice in one request (any mechanism,
/// deletion or upsertion) is refused with DUPLICATE_RESOURCE.
pub fn alter_scram(
    image: &MetadataImage,
    alterations: &[ScramAlteration],
) -> (Vec<MetadataRecord>, Vec<UserResult>) {
    let mut by_user: BTreeMap<&str, Vec<&ScramAlteration>> = BTreeMap::new();
    let mut order = Vec::new();
    for a in alterations {
        let entry = by_user.entry(&a.user).or_default();
        if entry.is_empty() {
            order.push(a.user.as_str());
        }
        entry.push(a);
    }
    let mut records = Vec::new();
    let results = order
        .into_iter()
        .map(|user| {
            let result = match by_user[user].as_slice() {
                [one] => decide(image, one).map(|r| records.push(r)),
                _ => Err(ApiError::new(
                    ResponseError::DuplicateResource,
                    "A user credential cannot be altered twice in the same request",
                )),
            };
            (user.to_string(), result)
        })
        .collect();
    (records, results)
}

fn decide(image: &MetadataImage, a: &ScramAlteration) -> Result<MetadataRecord, ApiError> {
    if a.user.is_empty() {
        return Err(ApiError::new(
            ResponseError::UnacceptableCredential,
            "Username must not be empty",
        ));
    }
    let mechanism = ScramMechanism::from_code(a.mechanism).ok_or_else(|| {
        ApiError::new(
            ResponseError::UnsupportedSaslMechanism,
            "Unknown SCRAM mechanism",
        )
    })?;
    let Some(up) = &a.upsert else {
        if image.scram_credential(&a.user, mechanism).is_none() {
            return Err(ApiError::new(
                ResponseError::ResourceNotFound,
                "Attempt to delete a user credential that does not exist",
            ));
        }
        return Ok(MetadataRecord::RemoveScramCredential {
            name: a.user.clone(),
            mechanism,
        });
    };
    let unacceptable = |m: &str| Err(ApiError::new(ResponseError::UnacceptableCredential, m));
    if up.iterations < ITERATIONS_MIN {
        return unacceptable("Too few iterations");
    }
    if up.iterations > ITERATIONS_MAX {
        return unacceptable("Too many iterations");
    }
    if up.salt.is_empty() || up.salted_password.is_empty() {
        return unacceptable("Salt and salted password must not be empty");
    }
    Ok(MetadataRecord::ScramCredential {
        name: a.user.clone(),
        mechanism,
        credential: ScramCredential::derive(
            mechanism,
            &up.salt,
            &up.salted_password,
            up.iterations,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(user: &str, mechanism: i8, iterations: i32) -> ScramAlteration {
        ScramAlteration {
            user: user.into(),
            mechanism,
            upsert: Some(ScramUpsert {
                iterations,
                salt: b"salt".to_vec(),
                salted_password: b"salted".to_vec(),
            }),
        }
    }

    fn delete(user: &str, mechanism: i8) -> ScramAlteration {
        ScramAlteration {
            user: user.into(),
            mechanism,
            upsert: None,
        }
    }

    fn codes(results: &[UserResult]) -> Vec<(&str, Option<ResponseError>)> {
        results
            .iter()
            .map(|(u, r)| (u.as_str(), r.as_ref().err().map(|e| e.code)))
            .collect()
    }

    #[test]
    fn validation_errors_are_kafkas() {
        let image = MetadataImage::default();
        let (records, results) = alter_scram(
            &image,
            &[
                upsert("ok", 1, 4096),
                upsert("few", 1, 4095),
                upsert("many", 2, 16385),
                upsert("mech", 0, 8192),
                delete("missing", 1),
                upsert("twice", 1, 8192),
                delete("twice", 2),
                upsert("", 1, 8192),
            ],
        );
        use ResponseError::*;
        assert_eq!(
            codes(&results),
            vec![
                ("ok", None),
                ("few", Some(UnacceptableCredential)),
                ("many", Some(UnacceptableCredential)),
                ("mech", Some(UnsupportedSaslMechanism)),
                ("missing", Some(ResourceNotFound)),
                ("twice", Some(DuplicateResource)),
                ("", Some(UnacceptableCredential)),
            ]
        );
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn upsert_then_delete() {
        let mut image = MetadataImage::default();
        let (records, _) = alter_scram(&image, &[upsert("u", 2, 8192)]);
        records.iter().for_each(|r| image.apply(r));
        let c = image.scram_credential("u", ScramMechanism::Sha512).unwrap();
        assert_eq!((c.iterations, c.salt.as_slice()), (8192, &b"salt"[..]));
        let (records, results) = alter_scram(&image, &[delete("u", 2)]);
        assert!(results[0].1.is_ok());
        records.iter().for_each(|r| image.apply(r));
        assert!(image
            .scram_credential("u", ScramMechanism::Sha512)
            .is_none());
    }
}
