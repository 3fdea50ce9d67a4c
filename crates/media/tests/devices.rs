//! Real audio devices, faked by a private PulseAudio server: the microphone
//! hears a tone played into it, the speaker's sound is recorded from its
//! monitor, switching moves it, and device lists carry the fake names.
//! One test in this binary: it points the process at its own server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use tandem_media::audio::{
    self, DeviceStatus, FRAME, MicChoice, Microphone, Speaker, SpeakerChoice, tone,
};
use tandem_testkit::pulse::{FakeAudio, tone_of};

#[test]
fn microphone_and_speaker_through_fake_pulseaudio_devices() {
    let fake = FakeAudio::start("media-devices");
    fake.use_in_this_process();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let list = audio::devices();
        let names = |l: &[audio::AudioDevice]| l.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
        println!(
            "inputs {:?}\noutputs {:?}",
            names(&list.inputs),
            names(&list.outputs)
        );
        assert!(
            list.inputs
                .iter()
                .any(|d| d.name == "Fake-Microphone" && d.is_default)
        );
        let headset = list
            .outputs
            .iter()
            .find(|d| d.name == "Fake-Headset")
            .unwrap()
            .clone();
        assert!(
            list.outputs
                .iter()
                .any(|d| d.name == "Fake-Speaker" && d.is_default)
        );

        // The microphone hears the tone played into it, with its level.
        let tone_module = fake.play_tone_into_mic(440);
        let mut mic = Microphone::start(MicChoice::Default, None, None).unwrap();
        assert_eq!(
            *mic.status().borrow(),
            DeviceStatus::Running("Fake-Microphone".into())
        );
        let mut frames = mic.take_frames().unwrap();
        let mut heard = Vec::new();
        while heard.len() < FRAME * 100 {
            heard.extend(frames.recv().await.unwrap());
        }
        let (hz, db) = tone_of(&heard[FRAME * 30..], 48_000);
        println!(
            "microphone: {hz:.1} Hz at {db:.1} dBFS, meter {:?}",
            *mic.level().borrow()
        );
        assert!((hz - 440.0).abs() < 3.0, "{hz}");
        assert!(mic.level().borrow().rms_dbfs > -40.0);
        fake.stop_tone(&tone_module);
        drop(mic);

        // What the speaker plays is recorded from its monitor.
        let speaker = Speaker::start(SpeakerChoice::Default, None).unwrap();
        let mut input = speaker.add_input();
        let feeder = tokio::spawn(async move {
            let mut t = tone(660.0);
            let mut buf = [0i16; FRAME];
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                tick.tick().await;
                t.fill(&mut buf);
                input.push(&buf);
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let played = tokio::task::spawn_blocking({
            let server = fake.server.clone();
            move || record(&server, "speaker")
        });
        let (hz, db) = tone_of(&played.await.unwrap(), 48_000);
        println!(
            "speaker: {hz:.1} Hz at {db:.1} dBFS, underruns {}",
            speaker.underruns()
        );
        assert!((hz - 660.0).abs() < 3.0 && db > -30.0, "{hz} {db}");

        // Switched mid-stream to the 44.1 kHz headset: the sound moves there.
        speaker
            .switch(SpeakerChoice::Id(headset.id.clone()))
            .await
            .unwrap();
        assert_eq!(
            *speaker.status().borrow(),
            DeviceStatus::Running("Fake-Headset".into())
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let on_headset = tokio::task::spawn_blocking({
            let server = fake.server.clone();
            move || record(&server, "headset")
        })
        .await
        .unwrap();
        let on_speaker = tokio::task::spawn_blocking({
            let server = fake.server.clone();
            move || record_for(&server, "speaker", Duration::from_millis(300))
        })
        .await
        .unwrap();
        // Resampled twice (48 → 44.1 kHz by us, back by the recorder): 1 %.
        let (hz, db) = tone_of(&on_headset, 48_000);
        println!(
            "headset: {hz:.1} Hz at {db:.1} dBFS; speaker now {:.1} dBFS",
            tone_of(&on_speaker, 48_000).1
        );
        assert!((hz - 660.0).abs() < 7.0 && db > -30.0, "{hz} {db}");
        assert!(tone_of(&on_speaker, 48_000).1 < -60.0);
        feeder.abort();

        // The speaker test: two notes.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let rec = tokio::task::spawn_blocking({
            let server = fake.server.clone();
            move || record_for(&server, "headset", Duration::from_millis(900))
        });
        speaker.play_test_sound();
        let rec = rec.await.unwrap();
        let loud: Vec<i16> = rec.iter().copied().skip_while(|s| s.abs() < 2000).collect();
        assert!(
            loud.len() > 48_000 / 2,
            "chime not heard ({:?})",
            started.elapsed()
        );
        let (first, _) = tone_of(&loud[2_000..12_000], 48_000);
        let (second, _) = tone_of(&loud[16_000..26_000], 48_000);
        println!("chime: {first:.0} Hz then {second:.0} Hz");
        assert!((first - 660.0).abs() < 10.0 && (second - 880.0).abs() < 10.0);

        // The headset is pulled out mid-stream: nothing breaks, and the sound
        // goes on (PulseAudio moves the stream to the default sink).
        fake.unplug("headset");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rec = tokio::task::spawn_blocking({
            let server = fake.server.clone();
            move || record_for(&server, "speaker", Duration::from_millis(900))
        });
        speaker.play_test_sound();
        let rec = rec.await.unwrap();
        println!(
            "after unplugging: {:?}, {:.1} dBFS on the speaker",
            *speaker.status().borrow(),
            tone_of(&rec, 48_000).1
        );
        assert!(
            tone_of(&rec, 48_000).1 > -40.0,
            "no sound after the headset went away"
        );
        // It can be moved back to a device that is there.
        speaker.switch(SpeakerChoice::Default).await.unwrap();
        assert_eq!(
            *speaker.status().borrow(),
            DeviceStatus::Running("Fake-Speaker".into())
        );
    });
}

fn record(server: &str, sink: &str) -> Vec<i16> {
    record_for(server, sink, Duration::from_millis(800))
}

fn record_for(server: &str, sink: &str, d: Duration) -> Vec<i16> {
    tandem_testkit::pulse::record(server, sink, d)
}
