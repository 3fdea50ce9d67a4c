//! The parsers of a platform's answers, fuzzed: any status and any body —
//! random text, JSON shaped almost like a real answer, JWT-like tokens —
//! give either a grant that holds what it promises or an error whose
//! message is short, single-line text. Never a panic.
//! 10,000 cases per property (`PROPTEST_CASES` overrides).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tandem_call::diagnose;
use tandem_call::platform::{
    BackendError, parse_grant, parse_session_info, parse_session_list, read_answer,
};

/// Keys the real answers use, so generated JSON often gets far.
const KEYS: &[&str] = &[
    "token",
    "serverUrl",
    "livekitUrl",
    "url",
    "roomName",
    "data",
    "error",
    "message",
    "sessions",
    "id",
    "valid",
    "sessionId",
    "sessionType",
    "status",
    "paidDurationMinutes",
    "otherParticipantName",
    "access_token",
    "video",
    "room",
    "exp",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        jwt_like().prop_map(Value::String),
        prop_oneof![
            Just("wss://lk.example.com"),
            Just("ws://127.0.0.1:7880"),
            Just("https://x"),
            Just("wss://"),
            Just("video"),
            Just("chat")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ]
}

/// Three dot-separated parts, sometimes with base64 JSON claims.
fn jwt_like() -> impl Strategy<Value = String> {
    use base64::Engine as _;
    let b64 = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    prop_oneof![
        (
            "[A-Za-z0-9_-]{0,20}",
            "[A-Za-z0-9_=.-]{0,40}",
            "[A-Za-z0-9_-]{0,20}"
        )
            .prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (any::<i64>(), any::<i64>(), ".{0,20}").prop_map(move |(exp, nbf, room)| {
            format!(
                "eyJhbGciOiJIUzI1NiJ9.{}.sig",
                b64(json!({"exp": exp, "nbf": nbf, "video": {"room": room}}).to_string())
            )
        }),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        json_value().prop_map(|v| v.to_string()),
        // Truncated JSON.
        (json_value(), any::<prop::sample::Index>()).prop_map(|(v, i)| {
            let t = v.to_string();
            let cut = i.index(t.len() + 1);
            t.chars().take(cut).collect()
        }),
        Just(String::new()),
        Just("<!doctype html><h1>502 Bad Gateway</h1>".to_owned()),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(200u16),
        Just(201),
        Just(204),
        prop::sample::select(vec![
            301u16, 400, 401, 403, 404, 409, 410, 422, 429, 500, 502, 503, 504
        ]),
        100u16..600,
    ]
}

/// What a person may be shown: bounded, one line.
fn check_message(e: &BackendError) -> Result<(), TestCaseError> {
    let text = e.to_string();
    prop_assert!(
        text.chars().count() <= 600,
        "message too long: {} chars",
        text.len()
    );
    prop_assert!(
        !text.chars().any(|c| c.is_control()),
        "control characters in {text:?}"
    );
    Ok(())
}

const PATHS: &[(&str, &str, Option<&str>)] = &[
    ("token", "serverUrl", None),
    ("token", "livekitUrl", None),
    ("data.token", "data.url", Some("data.roomName")),
    ("data.token", "data.serverUrl", Some("data.roomName")),
    ("token", "serverUrl", Some("roomName")),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_answer_gives_a_sound_grant_or_a_short_error(
        status in status(),
        body in body(),
        retry_after in any::<u64>(),
        server_time in any::<Option<i64>>(),
    ) {
        match read_answer(status, &body, retry_after) {
            Err(e) => check_message(&e)?,
            Ok(v) => {
                for (token_at, url_at, room_at) in PATHS {
                    match parse_grant(&v, token_at, url_at, *room_at, server_time) {
                        Err(e) => check_message(&e)?,
                        Ok(g) => {
                            prop_assert_eq!(g.token.split('.').count(), 3);
                            prop_assert!(g.server_url.starts_with("ws://") || g.server_url.starts_with("wss://"));
                            prop_assert!(g.room.as_ref().is_none_or(|r| r.len() <= 256));
                            // Whatever the token's claims say, diagnosing it is safe.
                            if let Ok(c) = diagnose::read_claims(&g.token) {
                                let _ = diagnose::diagnose(&c, 1_700_000_000, server_time);
                                let _ = diagnose::unusable(&c, 1_700_000_000, server_time, g.room.as_deref());
                                let _ = diagnose::explain_rejection(&c, 1_700_000_000, server_time).to_string();
                            }
                        }
                    }
                }
                match parse_session_info(&v) {
                    Err(e) => check_message(&e)?,
                    Ok(i) => {
                        prop_assert!(!i.session_id.is_empty() && i.session_id.chars().count() <= 200);
                        prop_assert!(["chat", "voice", "video"].contains(&i.session_type.as_str()));
                    }
                }
                match parse_session_list(&v) {
                    Err(e) => check_message(&e)?,
                    Ok(list) => prop_assert!(list.iter().all(|s| !s.id.is_empty() && s.id.chars().count() <= 200)),
                }
            }
        }
    }

    #[test]
    fn any_token_text_is_read_or_refused_without_panic(token in prop_oneof![any::<String>(), jwt_like()]) {
        if let Ok(c) = diagnose::read_claims(&token) {
            let _ = diagnose::diagnose(&c, 0, Some(i64::MAX));
            let _ = diagnose::diagnose(&c, i64::MIN, Some(i64::MAX));
            let _ = diagnose::unusable(&c, i64::MAX, Some(i64::MIN), Some("r"));
        }
    }
}
