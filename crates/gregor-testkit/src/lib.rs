//! Test kit: starts real `gregor broker` processes on free loopback ports for
//! end-to-end tests, injects process faults (SIGTERM, SIGKILL, restart) and
//! talks raw Kafka wire bytes for malformed-input tests.
//!
//! It owns nothing of the broker: it only runs the binary it is given, so it
//! has no dependency on any other gregor crate. Everything here is for tests;
//! errors are `io::Result`s with messages that include the broker's log tail
//! so a failing test explains itself.

mod broker;
mod raw;

pub use broker::{free_port, BrokerOptions, BrokerProcess};
pub use raw::{
    api_versions_v0_request, parse_api_versions_response, request_frame, ApiVersionsResponse,
    RawConn, ReadOutcome,
};
