//! A private PulseAudio server with fake devices, as TEST-ENVIRONMENT.md
//! describes: null sinks `speaker` and `headset` (record what is played from
//! their monitors) and `micfeed`, whose monitor is remapped as the source
//! `mic` (play a tone into `micfeed` and the microphone hears it). Nothing
//! touches a real sound card or another user's server.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running fake audio server; dropping it stops the server.
#[derive(Debug)]
pub struct FakeAudio {
    dir: PathBuf,
    child: Child,
    /// Value for `PULSE_SERVER`: give it to processes that should use it.
    pub server: String,
}

const CONFIG: &str = "\
load-module module-native-protocol-unix auth-anonymous=1 socket=@DIR@/native
load-module module-null-sink sink_name=speaker rate=48000 channels=2 sink_properties=device.description=Fake-Speaker
load-module module-null-sink sink_name=headset rate=44100 channels=2 sink_properties=device.description=Fake-Headset
load-module module-null-sink sink_name=micfeed rate=48000 channels=1 sink_properties=device.description=Mic-Feed
load-module module-remap-source source_name=mic master=micfeed.monitor source_properties=device.description=Fake-Microphone
set-default-sink speaker
set-default-source mic
";

impl FakeAudio {
    /// Starts a server for the test `name` and waits until it answers.
    pub fn start(name: &str) -> FakeAudio {
        let dir = std::env::temp_dir().join(format!("tandem-pulse-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("fake.pa");
        std::fs::write(&config, CONFIG.replace("@DIR@", &dir.to_string_lossy())).unwrap();
        let child = Command::new("pulseaudio")
            .args(["--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no"])
            .args([
                "--disallow-exit",
                "--log-target=stderr",
                "--log-level=error",
                "-n",
                "-F",
            ])
            .arg(&config)
            .env("HOME", &dir)
            .env("XDG_RUNTIME_DIR", &dir)
            .env("XDG_CONFIG_HOME", &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("pulseaudio (apt package pulseaudio) must be installed");
        let fake = FakeAudio {
            server: format!("unix:{}", dir.join("native").display()),
            dir,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !fake.pactl(&["info"]).status().is_ok_and(|s| s.success()) {
            assert!(
                Instant::now() < deadline,
                "the fake PulseAudio server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        fake
    }

    /// Makes this process (and what it starts) use the fake server. Call it
    /// first thing in a test binary that has only this test, before any
    /// thread could read the environment.
    pub fn use_in_this_process(&self) {
        // SAFETY: the test calls this before it starts other threads, so
        // nothing reads the environment concurrently.
        unsafe {
            std::env::set_var("PULSE_SERVER", &self.server);
        }
    }

    /// `pactl` against this server.
    pub fn pactl(&self, args: &[&str]) -> Command {
        let mut c = Command::new("pactl");
        c.env("PULSE_SERVER", &self.server)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Plays a continuous sine at `hz` into the microphone; returns the
    /// module index (for [`stop_tone`](Self::stop_tone)).
    pub fn play_tone_into_mic(&self, hz: u32) -> String {
        let out = self
            .pactl(&[
                "load-module",
                "module-sine",
                "sink=micfeed",
                &format!("frequency={hz}"),
            ])
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        assert!(out.status.success(), "module-sine did not load");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Unplugs the sink `name` (unloads the module that made it), as when a
    /// USB headset is pulled out.
    pub fn unplug(&self, name: &str) {
        let out = self
            .pactl(&["list", "short", "modules"])
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&out.stdout).to_string();
        let module = listing
            .lines()
            .find(|l| l.contains(&format!("sink_name={name} ")))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no module made sink {name}: {listing}"))
            .to_owned();
        self.stop_tone(&module);
    }

    /// Stops a tone started by [`play_tone_into_mic`](Self::play_tone_into_mic).
    pub fn stop_tone(&self, module: &str) {
        let _ = self.pactl(&["unload-module", module]).status();
    }

    /// Records what the sink `sink` plays for `duration`, as 48 kHz mono.
    pub fn record(&self, sink: &str, duration: Duration) -> Vec<i16> {
        record(&self.server, sink, duration)
    }
}

/// Plays `path` (raw 48 kHz mono s16le) into the sink `sink` of the server
/// `server` (`micfeed`: the microphone hears it), returning once all of it
/// has been played.
pub fn play(server: &str, sink: &str, path: &std::path::Path) {
    let status = Command::new("pacat")
        .env("PULSE_SERVER", server)
        .args([
            "--playback",
            "--format=s16le",
            "--rate=48000",
            "--channels=1",
        ])
        .arg(format!("--device={sink}"))
        .arg("--latency-msec=20")
        .arg(path)
        .status()
        .expect("pacat (apt package pulseaudio-utils) must be installed");
    assert!(status.success(), "pacat could not play {}", path.display());
}

/// Records `duration` of what the sink `sink` of the server `server` plays,
/// as 48 kHz mono, counted in samples from the first one delivered (the
/// recorder can take a while to start).
pub fn record(server: &str, sink: &str, duration: Duration) -> Vec<i16> {
    let mut child = Command::new("parec")
        .env("PULSE_SERVER", server)
        .args(["--raw", "--format=s16le", "--rate=48000", "--channels=1"])
        .arg("--latency-msec=20")
        .stderr(Stdio::null())
        .arg(format!("--device={sink}.monitor"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("parec (apt package pulseaudio-utils) must be installed");
    let want = (duration.as_secs_f64() * 48_000.0) as usize * 2;
    let out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::with_capacity(want);
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(out, want as u64), &mut bytes);
        bytes
    });
    let deadline = Instant::now() + duration + Duration::from_secs(10);
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    let bytes = reader.join().unwrap();
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

impl Drop for FakeAudio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The frequency of the single tone in `samples` at `rate` (zero crossings
/// between the first and last), and its RMS level in dBFS.
pub fn tone_of(samples: &[i16], rate: u32) -> (f64, f64) {
    let crossings: Vec<usize> = samples
        .windows(2)
        .enumerate()
        .filter(|(_, w)| (w[0] < 0) != (w[1] < 0))
        .map(|(i, _)| i)
        .collect();
    let hz = match (crossings.first(), crossings.last()) {
        (Some(&a), Some(&b)) if b > a => {
            (crossings.len() - 1) as f64 / 2.0 / ((b - a) as f64 / f64::from(rate))
        }
        _ => 0.0,
    };
    let rms = (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
        / samples.len().max(1) as f64)
        .sqrt();
    (hz, 20.0 * (rms.max(1e-3) / 32_768.0).log10())
}
