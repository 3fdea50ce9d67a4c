//! LiveKit's JS SDK (`livekit-client`) in Debian's Chromium, driven by
//! Playwright, and LiveKit's Python SDK meet through the dev server inside a
//! private network namespace: video decoded and audio received each way,
//! chat both ways.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use tandem_devserver::{Config, Server};
use tandem_testkit::peer::Peer;
use tandem_testkit::token;

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

#[test]
fn browser_and_python_sdks_see_and_hear_each_other_and_chat() {
    tandem_testkit::media_test(
        "browser_and_python_sdks_see_and_hear_each_other_and_chat",
        |ip| async move {
            let server = Server::start(Config::for_tests(ip)).await.unwrap();
            let url = server.url();
            let mut web = Peer::browser("web", &url, &token::join("r", "web"))
                .await
                .unwrap();
            let mut py = Peer::python("py", &url, &token::join("r", "py"))
                .await
                .unwrap();
            web.cmd(json!({"cmd": "publish_camera"})).await.unwrap();
            web.cmd(json!({"cmd": "publish_mic"})).await.unwrap();
            py.cmd(json!({"cmd": "publish_video", "color": [200, 30, 90], "width": 320, "height": 240, "fps": 15}))
            .await
            .unwrap();
            py.cmd(json!({"cmd": "publish_audio", "freq": 440}))
                .await
                .unwrap();

            let window = Duration::from_secs(30);
            let s = web
                .stats_until(window, |s| {
                    count(&s["video"]["py"]["frames"]) > 10
                        && count(&s["audio"]["py"]["packets"]) > 50
                })
                .await
                .unwrap();
            assert_eq!(s["video"]["py"]["width"], 320, "{s}");
            py.stats_until(window, |s| {
                count(&s["video"]["web"]["frames"]) > 10
                    && s["audio"]["web"]["rms"].as_f64().unwrap_or(0.0) > 0.001
            })
            .await
            .unwrap();

            web.cmd(json!({"cmd": "send_chat", "text": "from the browser ✓"}))
                .await
                .unwrap();
            py.expect(
                "chat",
                json!({"sender": "web", "text": "from the browser ✓"}),
            )
            .await
            .unwrap();
            py.cmd(json!({"cmd": "send_chat", "text": "from python"}))
                .await
                .unwrap();
            web.expect("chat", json!({"sender": "py", "text": "from python"}))
                .await
                .unwrap();
            web.cmd(json!({"cmd": "send_data", "payload": "browser data", "topic": "t"}))
                .await
                .unwrap();
            py.expect(
                "data",
                json!({"sender": "web", "payload": "browser data", "topic": "t"}),
            )
            .await
            .unwrap();

            web.disconnect().await.unwrap();
            py.expect("participant_disconnected", json!({"identity": "web"}))
                .await
                .unwrap();
            py.disconnect().await.unwrap();
            server.stop().await;
        },
    );
}
