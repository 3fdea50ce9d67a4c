//! Signaling and RoomService checked with a fake client built from
//! `livekit-protocol` types, in process, on loopback. No media flows here;
//! the SDK interop tests cover that.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use livekit_protocol as proto;
use prost::Message as _;
use proto::{signal_request, signal_response};
use tandem_devserver::{Config, Server};
use tandem_testkit::token;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn server_with(tweak: impl FnOnce(&mut Config)) -> Server {
    tandem_testkit::logs();
    let mut cfg = Config::for_tests("127.0.0.1".parse().unwrap());
    tweak(&mut cfg);
    Server::start(cfg).await.unwrap()
}

async fn server() -> Server {
    server_with(|_| {}).await
}

struct Client {
    ws: Ws,
}

impl Client {
    async fn connect(server: &Server, token: &str, query: &str) -> Result<Client, String> {
        let url = format!(
            "{}/rtc?access_token={token}&protocol=16&sdk=rust&auto_subscribe=1{query}",
            server.url()
        );
        match tokio_tungstenite::connect_async(url).await {
            Ok((ws, _)) => Ok(Client { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(format!(
                "{} {}",
                res.status().as_u16(),
                String::from_utf8_lossy(res.body().as_deref().unwrap_or_default())
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn join(server: &Server, room: &str, identity: &str) -> (Client, proto::JoinResponse) {
        let mut c = Client::connect(server, &token::join(room, identity), "")
            .await
            .unwrap();
        match c.recv().await {
            signal_response::Message::Join(j) => (c, j),
            other => panic!("first message is not join: {other:?}"),
        }
    }

    async fn send(&mut self, msg: signal_request::Message) {
        let bytes = proto::SignalRequest { message: Some(msg) }.encode_to_vec();
        self.ws.send(Message::Binary(bytes.into())).await.unwrap();
    }

    /// Next signal message; panics after 5 s or on close.
    async fn recv(&mut self) -> signal_response::Message {
        self.try_recv(Duration::from_secs(5))
            .await
            .expect("a signal message")
    }

    async fn try_recv(&mut self, within: Duration) -> Option<signal_response::Message> {
        loop {
            let next = tokio::time::timeout(within, self.ws.next()).await.ok()??;
            match next {
                Ok(Message::Binary(b)) => {
                    return proto::SignalResponse::decode(b.as_ref()).unwrap().message;
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Skips messages until one matches.
    async fn until<T>(&mut self, mut pick: impl FnMut(signal_response::Message) -> Option<T>) -> T {
        for _ in 0..50 {
            if let Some(t) = pick(self.recv().await) {
                return t;
            }
        }
        panic!("expected message never came");
    }

    /// True when the server closes the connection within `within`.
    async fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

fn update_for(
    identity: &str,
) -> impl FnMut(signal_response::Message) -> Option<proto::ParticipantInfo> + '_ {
    move |m| match m {
        signal_response::Message::Update(u) => {
            u.participants.into_iter().find(|p| p.identity == identity)
        }
        _ => None,
    }
}

fn leave(m: signal_response::Message) -> Option<proto::LeaveRequest> {
    match m {
        signal_response::Message::Leave(l) => Some(l),
        _ => None,
    }
}

async fn wait_counts(
    server: &Server,
    want: impl Fn(&tandem_devserver::Counts) -> bool,
) -> tandem_devserver::Counts {
    let mut c = server.counts().await.unwrap();
    for _ in 0..50 {
        if want(&c) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        c = server.counts().await.unwrap();
    }
    c
}

#[tokio::test]
async fn join_response_carries_what_sdks_require_then_a_subscriber_offer() {
    let server = server().await;
    let (mut c, join) = Client::join(&server, "room-a", "alice").await;
    let room = join.room.unwrap();
    assert!(room.sid.starts_with("RM_"), "{}", room.sid);
    assert_eq!(room.name, "room-a");
    let me = join.participant.unwrap();
    assert!(me.sid.starts_with("PA_"), "{}", me.sid);
    assert_eq!(me.identity, "alice");
    assert_eq!(me.name, "alice (test)");
    assert_eq!(me.state, proto::participant_info::State::Joined as i32);
    assert!(me.permission.unwrap().can_publish);
    assert!(join.subscriber_primary);
    assert!(join.ping_interval > 0 && join.ping_timeout > join.ping_interval);
    let info = join.server_info.unwrap();
    let parts: Vec<u32> = info
        .version
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        parts.len() == 3 && parts[0] == 1 && parts[1] >= 8,
        "{}",
        info.version
    );
    assert!(join.other_participants.is_empty());
    // The subscriber connection is offered at once, data channels included.
    let offer = c
        .until(|m| match m {
            signal_response::Message::Offer(o) => Some(o),
            _ => None,
        })
        .await;
    assert_eq!(offer.r#type, "offer");
    assert!(offer.id >= 1);
    assert!(offer.sdp.contains("m=application"), "{}", offer.sdp);
    assert!(offer.sdp.contains("a=ice-lite"), "{}", offer.sdp);
    server.stop().await;
}

#[tokio::test]
async fn pings_are_answered_in_both_forms() {
    let server = server().await;
    let (mut c, _) = Client::join(&server, "r", "alice").await;
    c.send(signal_request::Message::Ping(12345)).await;
    let pong = c
        .until(|m| match m {
            signal_response::Message::Pong(t) => Some(t),
            _ => None,
        })
        .await;
    assert_eq!(pong, 12345);
    c.send(signal_request::Message::PingReq(proto::Ping {
        timestamp: 777,
        rtt: 20,
    }))
    .await;
    let resp = c
        .until(|m| match m {
            signal_response::Message::PongResp(p) => Some(p),
            _ => None,
        })
        .await;
    assert_eq!(resp.last_ping_timestamp, 777);
    assert!(resp.timestamp > 0);
    server.stop().await;
}

#[tokio::test]
async fn participant_updates_have_increasing_versions() {
    let server = server().await;
    let (mut alice, _) = Client::join(&server, "r", "alice").await;
    let (mut bob, bob_join) = Client::join(&server, "r", "bob").await;
    assert_eq!(bob_join.other_participants.len(), 1);
    assert_eq!(bob_join.other_participants[0].identity, "alice");
    let first = alice.until(update_for("bob")).await;
    assert_eq!(first.state, proto::participant_info::State::Active as i32);

    bob.send(signal_request::Message::UpdateMetadata(
        proto::UpdateParticipantMetadata {
            metadata: r#"{"role":"coach"}"#.into(),
            name: "Bob B".into(),
            request_id: 9,
            ..Default::default()
        },
    ))
    .await;
    let ok = bob
        .until(|m| match m {
            signal_response::Message::RequestResponse(r) => Some(r),
            _ => None,
        })
        .await;
    assert_eq!(ok.request_id, 9);
    assert_eq!(ok.reason, proto::request_response::Reason::Ok as i32);
    let second = alice.until(update_for("bob")).await;
    assert_eq!(second.metadata, r#"{"role":"coach"}"#);
    assert_eq!(second.name, "Bob B");
    assert!(
        second.version > first.version,
        "{} !> {}",
        second.version,
        first.version
    );

    // A published track appears in the next update, with a higher version again.
    bob.send(signal_request::Message::AddTrack(proto::AddTrackRequest {
        cid: "cid-1".into(),
        name: "mic".into(),
        r#type: proto::TrackType::Audio as i32,
        source: proto::TrackSource::Microphone as i32,
        ..Default::default()
    }))
    .await;
    let published = bob
        .until(|m| match m {
            signal_response::Message::TrackPublished(t) => Some(t),
            _ => None,
        })
        .await;
    assert_eq!(published.cid, "cid-1");
    assert!(published.track.unwrap().sid.starts_with("TR_"));

    // Leaving is broadcast as DISCONNECTED.
    bob.send(signal_request::Message::Leave(
        proto::LeaveRequest::default(),
    ))
    .await;
    let gone = alice
        .until(|m| match m {
            signal_response::Message::Update(u) => u.participants.into_iter().find(|p| {
                p.identity == "bob"
                    && p.state == proto::participant_info::State::Disconnected as i32
            }),
            _ => None,
        })
        .await;
    assert!(gone.version > second.version);
    assert!(bob.closed_within(Duration::from_secs(2)).await);
    server.stop().await;
}

#[tokio::test]
async fn metadata_updates_need_the_grant() {
    let server = server().await;
    let t = token::join_with("r", "carol", |g| g.can_update_own_metadata = Some(false));
    let mut c = Client::connect(&server, &t, "").await.unwrap();
    c.recv().await;
    c.send(signal_request::Message::UpdateMetadata(
        proto::UpdateParticipantMetadata {
            metadata: "x".into(),
            request_id: 4,
            ..Default::default()
        },
    ))
    .await;
    let r = c
        .until(|m| match m {
            signal_response::Message::RequestResponse(r) => Some(r),
            _ => None,
        })
        .await;
    assert_eq!(r.request_id, 4);
    assert_eq!(r.reason, proto::request_response::Reason::NotAllowed as i32);
    server.stop().await;
}

#[tokio::test]
async fn publishing_needs_the_grant() {
    let server = server().await;
    let t = token::join_with("r", "viewer", |g| g.can_publish = Some(false));
    let mut c = Client::connect(&server, &t, "").await.unwrap();
    let join = match c.recv().await {
        signal_response::Message::Join(j) => j,
        other => panic!("{other:?}"),
    };
    assert!(!join.participant.unwrap().permission.unwrap().can_publish);
    c.send(signal_request::Message::AddTrack(proto::AddTrackRequest {
        cid: "c".into(),
        r#type: proto::TrackType::Video as i32,
        source: proto::TrackSource::Camera as i32,
        ..Default::default()
    }))
    .await;
    let r = c
        .until(|m| match m {
            signal_response::Message::TrackPublished(_) => Some(Err(())),
            signal_response::Message::RequestResponse(r) => Some(Ok(r)),
            _ => None,
        })
        .await
        .expect("refused, not published");
    assert_eq!(r.reason, proto::request_response::Reason::NotAllowed as i32);
    server.stop().await;
}

#[tokio::test]
async fn duplicate_identity_replaces_the_older_connection() {
    let server = server().await;
    let (mut first, _) = Client::join(&server, "r", "alice").await;
    let (_second, join) = Client::join(&server, "r", "alice").await;
    assert!(
        join.other_participants.is_empty(),
        "the old alice is gone before the new one joins"
    );
    let l = first.until(leave).await;
    assert_eq!(l.reason, proto::DisconnectReason::DuplicateIdentity as i32);
    assert_eq!(l.action, proto::leave_request::Action::Disconnect as i32);
    assert!(first.closed_within(Duration::from_secs(2)).await);
    let c = wait_counts(&server, |c| c.participants == 1).await;
    assert_eq!(c.participants, 1);
    server.stop().await;
}

#[tokio::test]
async fn resume_of_an_unknown_session_asks_for_a_full_reconnect() {
    let server = server().await;
    let mut c = Client::connect(
        &server,
        &token::join("r", "alice"),
        "&reconnect=1&sid=PA_doesnotexist",
    )
    .await
    .unwrap();
    let l = leave(c.recv().await).expect("leave");
    assert_eq!(l.action, proto::leave_request::Action::Reconnect as i32);
    assert!(l.can_reconnect);
    assert!(c.closed_within(Duration::from_secs(2)).await);
    server.stop().await;
}

#[tokio::test]
async fn simulated_server_leave_sends_leave_and_allows_rejoin() {
    let server = server().await;
    let (mut c, _) = Client::join(&server, "r", "alice").await;
    c.send(signal_request::Message::Simulate(proto::SimulateScenario {
        scenario: Some(proto::simulate_scenario::Scenario::ServerLeave(true)),
    }))
    .await;
    let l = c.until(leave).await;
    assert_eq!(l.action, proto::leave_request::Action::Reconnect as i32);
    assert!(c.closed_within(Duration::from_secs(2)).await);
    let (_again, join) = Client::join(&server, "r", "alice").await;
    assert_eq!(join.participant.unwrap().identity, "alice");
    server.stop().await;
}

#[tokio::test]
async fn full_rooms_refuse_joins_with_a_reason() {
    let server = server_with(|c| c.max_participants = 1).await;
    let (_a, _) = Client::join(&server, "r", "alice").await;
    let err = Client::connect(&server, &token::join("r", "bob"), "")
        .await
        .err()
        .expect("refused");
    assert!(err.starts_with("403") && err.contains("full"), "{err}");
    let res = reqwest::get(format!(
        "http://{}/rtc/validate?access_token={}",
        server.http_addr(),
        token::join("r", "bob")
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("full"));
    server.stop().await;
}

#[tokio::test]
async fn empty_rooms_close_after_their_timeout() {
    let server = server_with(|c| c.empty_timeout = Duration::from_millis(500)).await;
    let (mut c, _) = Client::join(&server, "r", "alice").await;
    assert_eq!(server.counts().await.unwrap().rooms, 1);
    c.send(signal_request::Message::Leave(
        proto::LeaveRequest::default(),
    ))
    .await;
    let counts = wait_counts(&server, |c| c.rooms == 0).await;
    assert_eq!(counts, tandem_devserver::Counts::default());
    server.stop().await;
}

#[tokio::test]
async fn bad_tokens_are_refused_with_their_reason() {
    let server = server().await;
    let addr = server.http_addr();
    let validate = |t: String| async move {
        let res = reqwest::get(format!("http://{addr}/rtc/validate?access_token={t}"))
            .await
            .unwrap();
        let cors = res
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned());
        (res.status().as_u16(), res.text().await.unwrap(), cors)
    };
    let (s, body, cors) = validate(token::join("r", "a")).await;
    assert_eq!(
        (s, body.as_str(), cors.as_deref()),
        (200, "success", Some("*"))
    );

    let forged = livekit_api::access_token::AccessToken::with_api_key("devkey", "not-the-secret")
        .with_identity("a")
        .with_grants(livekit_api::access_token::VideoGrants {
            room_join: true,
            room: "r".into(),
            ..Default::default()
        })
        .to_jwt()
        .unwrap();
    let (s, body, _) = validate(forged.clone()).await;
    assert_eq!(s, 401);
    assert!(body.contains("signature"), "{body}");
    let (s, body, _) = validate("garbage".into()).await;
    assert_eq!((s, body.contains("malformed")), (401, true), "{body}");
    let (s, body, _) = validate(String::new()).await;
    assert_eq!((s, body.contains("no access token")), (401, true), "{body}");
    let no_join = token::join_with("r", "a", |g| g.room_join = false);
    let (s, body, _) = validate(no_join).await;
    assert_eq!((s, body.contains("roomJoin")), (403, true), "{body}");

    // The WebSocket upgrade itself is refused the same way, and the header form works.
    let err = Client::connect(&server, &forged, "").await.err().unwrap();
    assert!(err.starts_with("401"), "{err}");
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{addr}/rtc?protocol=16"),
    )
    .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", token::join("r", "hdr"))
            .parse()
            .unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let first = ws.next().await.unwrap().unwrap();
    let msg = proto::SignalResponse::decode(first.into_data().as_ref()).unwrap();
    assert!(matches!(
        msg.message,
        Some(signal_response::Message::Join(_))
    ));
    server.stop().await;
}

#[tokio::test]
async fn v1_paths_answer_404_so_sdks_fall_back() {
    let server = server().await;
    let addr = server.http_addr();
    for path in ["/rtc/v1", "/rtc/v1/validate"] {
        let res = reqwest::get(format!(
            "http://{addr}{path}?access_token={}",
            token::join("r", "a")
        ))
        .await
        .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert!(res.headers().contains_key("access-control-allow-origin"));
        let body = res.text().await.unwrap();
        assert!(!body.contains("requested room does not exist"), "{body}");
    }
    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{addr}/twirp/livekit.RoomService/ListRooms"),
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    server.stop().await;
}

#[tokio::test]
async fn hostile_input_never_takes_the_server_down() {
    let server = server().await;
    let (mut c, _) = Client::join(&server, "r", "alice").await;
    // Garbage bytes and unknown tracks: ignored, the connection lives on.
    c.ws.send(Message::Binary(vec![0xff, 0x00, 0x13, 0x37].into()))
        .await
        .unwrap();
    c.send(signal_request::Message::Mute(proto::MuteTrackRequest {
        sid: "TR_nope".into(),
        muted: true,
    }))
    .await;
    c.send(signal_request::Message::Answer(proto::SessionDescription {
        r#type: "answer".into(),
        sdp: "not sdp".into(),
        id: 99,
        ..Default::default()
    }))
    .await;
    c.send(signal_request::Message::Offer(proto::SessionDescription {
        r#type: "offer".into(),
        sdp: "v=0 nonsense".into(),
        id: 1,
        ..Default::default()
    }))
    .await;
    c.send(signal_request::Message::Ping(1)).await;
    let pong = c
        .until(|m| match m {
            signal_response::Message::Pong(t) => Some(t),
            _ => None,
        })
        .await;
    assert_eq!(pong, 1);

    // An oversize message ends that connection only.
    let (mut big, _) = Client::join(&server, "r", "bob").await;
    let _ = big
        .ws
        .send(Message::Binary(vec![0u8; 2 * 1024 * 1024].into()))
        .await;
    assert!(big.closed_within(Duration::from_secs(3)).await);

    // An abrupt disconnect (no leave, no close frame) is cleaned up.
    let (abrupt, _) = Client::join(&server, "r", "carol").await;
    drop(abrupt);
    drop(c);
    let counts = wait_counts(&server, |c| c.participants == 0).await;
    assert_eq!(counts.participants, 0, "{counts:?}");
    // And the server still takes new joins.
    let (_d, join) = Client::join(&server, "r", "dave").await;
    assert_eq!(join.participant.unwrap().identity, "dave");
    server.stop().await;
}

async fn twirp(
    server: &Server,
    method: &str,
    token: &str,
    json: serde_json::Value,
) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(format!(
            "http://{}/twirp/livekit.RoomService/{method}",
            server.http_addr()
        ))
        .bearer_auth(token)
        .json(&json)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn room_service_over_twirp_json_and_protobuf() {
    let server = server().await;
    let admin = token::admin("coaching");
    let (s, room) = twirp(
        &server,
        "CreateRoom",
        &admin,
        serde_json::json!({"name": "coaching", "emptyTimeout": 60}),
    )
    .await;
    assert_eq!(s, 200, "{room}");
    assert_eq!(room["name"], "coaching");
    assert!(room["sid"].as_str().unwrap().starts_with("RM_"));

    let (_alice, _) = Client::join(&server, "coaching", "alice").await;
    let (s, list) = twirp(
        &server,
        "ListParticipants",
        &admin,
        serde_json::json!({"room": "coaching"}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(list["participants"][0]["identity"], "alice");

    // The same call in protobuf.
    let body = proto::ListRoomsRequest::default().encode_to_vec();
    let res = reqwest::Client::new()
        .post(format!(
            "http://{}/twirp/livekit.RoomService/ListRooms",
            server.http_addr()
        ))
        .bearer_auth(&admin)
        .header("content-type", "application/protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rooms = proto::ListRoomsResponse::decode(res.bytes().await.unwrap().as_ref()).unwrap();
    assert_eq!(rooms.rooms.len(), 1);
    assert_eq!(rooms.rooms[0].num_participants, 1);

    // Errors: Twirp codes with messages.
    let (s, e) = twirp(
        &server,
        "GetParticipant",
        &admin,
        serde_json::json!({"room": "coaching", "identity": "nobody"}),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")));
    let joiner = token::join("coaching", "x");
    let (s, e) = twirp(&server, "ListRooms", &joiner, serde_json::json!({})).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (403, Some("permission_denied")),
        "{e}"
    );
    let (s, e) = twirp(
        &server,
        "ListParticipants",
        &token::admin("other-room"),
        serde_json::json!({"room": "coaching"}),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (403, Some("permission_denied")),
        "{e}"
    );
    let (s, e) = twirp(&server, "NoSuchMethod", &admin, serde_json::json!({})).await;
    assert_eq!((s, e["code"].as_str()), (404, Some("bad_route")));
    let (s, e) = twirp(
        &server,
        "CreateRoom",
        &admin,
        serde_json::json!({"name": 5}),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("malformed")), "{e}");
    let (s, e) = twirp(&server, "ListRooms", "not-a-token", serde_json::json!({})).await;
    assert_eq!((s, e["code"].as_str()), (401, Some("unauthenticated")));

    let (s, _) = twirp(
        &server,
        "DeleteRoom",
        &admin,
        serde_json::json!({"room": "coaching"}),
    )
    .await;
    assert_eq!(s, 200);
    let counts = wait_counts(&server, |c| c.rooms == 0).await;
    assert_eq!(counts, tandem_devserver::Counts::default());
    server.stop().await;
}
