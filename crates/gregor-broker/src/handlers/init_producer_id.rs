//! InitProducerId for idempotent producers: a fresh producer id, epoch 0.

use std::sync::Arc;

use gregor_protocol::kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProducerId,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::warn;

use super::ApiSupport;
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::InitProducerId, 0, 6);

pub fn handle(
    broker: &Arc<Broker>,
    req: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    let failed = |code: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(code.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if req.transactional_id.is_some() {
        // Transactional producers reach InitProducerId through their
        // transaction coordinator, which this broker does not run yet.
        return failed(ResponseError::CoordinatorNotAvailable);
    }
    // Kafka gives an idempotent producer a new id each time, even when it
    // presents its old one (KIP-360): sequences then restart at 0 cleanly.
    match tokio::task::block_in_place(|| broker.next_producer_id()) {
        Ok(id) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => {
            warn!(error = %e, "could not allocate a producer id");
            failed(ResponseError::UnknownServerError)
        }
    }
}
