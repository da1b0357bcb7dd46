//! `google.rpc.Status`, the body OTLP/HTTP requires for every error answer, as the tests read
//! it: written out here rather than shared with the receiver, so the tests check the wire
//! format and not the receiver's own idea of it.

use prost::Message;

#[derive(Clone, PartialEq, prost::Message, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// gRPC's codes for a bad request and for one over the size limit.
pub const INVALID_ARGUMENT: i32 = 3;
pub const RESOURCE_EXHAUSTED: i32 = 8;

/// The answer's body as a Status: JSON when `json`, protobuf otherwise.
pub fn decode(body: &[u8], json: bool) -> Result<Status, String> {
    if json {
        serde_json::from_slice(body).map_err(|err| err.to_string())
    } else {
        Status::decode(body).map_err(|err| err.to_string())
    }
}
