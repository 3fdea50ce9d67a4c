//! LiveKit's FFI protocol, generated at build time from the pinned wheel's
//! descriptors. Crate-private: nothing generated leaks out of tandem-lk.

#![allow(
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks,
    deprecated,
    dead_code,
    rust_2018_idioms
)]

include!(concat!(env!("OUT_DIR"), "/livekit.proto.rs"));

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    /// The generated schema is the library's own: enum names and values and
    /// message round trips match what the wheel's descriptors declare.
    #[test]
    fn generated_types_match_the_wheels_schema() {
        assert_eq!(VideoBufferType::I420 as i32, 5);
        assert_eq!(VideoBufferType::I420.as_str_name(), "I420");
        assert_eq!(DisconnectReason::DuplicateIdentity as i32, 2);
        let request = FfiRequest {
            message: Some(ffi_request::Message::Connect(ConnectRequest {
                url: "ws://h".into(),
                token: "t".into(),
                options: RoomOptions {
                    auto_subscribe: Some(true),
                    ..Default::default()
                },
                request_async_id: Some(7),
            })),
        };
        let bytes = request.encode_to_vec();
        assert_eq!(FfiRequest::decode(bytes.as_slice()).unwrap(), request);
    }
}
