//! What the effects cost on this machine, per picture and per 10 ms of
//! sound: `cargo bench -p tandem-media --bench effects [-- SECONDS]`
//! prints a table (median and 95th percentile of each step, and the share
//! of one core at the camera's 30 pictures and the microphone's 100
//! frames a second).

use tandem_media::audio::Denoiser;
use tandem_media::effects::{Backdrop, Background, BackgroundSwitch, Effects, Segmenter};

mod common;
use common::{picture, row, seconds, times};

fn main() {
    let seconds = seconds();
    let frame = picture();
    println!("| step | median ms | p95 ms | one core at its rate |");
    println!("|---|---|---|---|");

    // Speech-like input: a tone with noise (the cost does not depend on it).
    let mut sound: Vec<i16> = (0..480)
        .map(|i| ((f64::from(i) * 0.06).sin() * 3000.0) as i16)
        .collect();
    let mut denoiser = Denoiser::new();
    row(
        "noise removal, 10 ms of sound",
        100.0,
        &times(seconds, || {
            denoiser.process(&mut sound);
        }),
    );

    let model = Segmenter::new().unwrap_or_else(|e| panic!("{e}"));
    row(
        "segmentation (model, 256×144)",
        30.0,
        &times(seconds, || {
            let _ = model.mask(&frame);
        }),
    );

    let scene = Backdrop::scene("leaves").unwrap_or_else(|| panic!("the leaves scene"));
    for (name, background) in [
        ("blur, 1280×720 picture at 30 fps", Background::BlurLight),
        ("strong blur, 1280×720 picture", Background::BlurStrong),
        (
            "a scene behind, 1280×720 picture",
            Background::Picture(scene),
        ),
    ] {
        let switch = BackgroundSwitch::new(background);
        let mut effects = Effects::default();
        row(
            name,
            30.0,
            &times(seconds, || {
                let mut f = frame.clone();
                effects.apply(&switch, &mut f);
            }),
        );
        println!(
            "|   (pictures per model run: {}) | | | |",
            switch.status().pictures_per_mask
        );
    }
    browser(seconds.max(8.0));
}

/// The same blur by LiveKit's JS track processors in Chromium, on this
/// machine in this run (`tests/peers/js/blur_bench.mjs`): what it adds to
/// showing the camera, and the rate it keeps.
fn browser(seconds: f64) {
    let js = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/peers/js");
    if !std::path::Path::new(js).join("node_modules").is_dir() {
        println!("\n(no browser comparison: run `npm ci` in tests/peers/js)");
        return;
    }
    let portrait = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/grace_hopper.jpg");
    let out = std::process::Command::new("node")
        .arg(format!("{js}/blur_bench.mjs"))
        .args(["--seconds", &format!("{seconds:.0}"), "--image", portrait])
        .stderr(std::process::Stdio::null())
        .output();
    let out = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => return println!("\n(the browser comparison failed: {})", o.status),
        Err(e) => return println!("\n(the browser comparison did not start: {e})"),
    };
    // One JSON line a phase; read the two numbers wanted without a parser.
    let field = |line: &str, name: &str| -> Option<f64> {
        let at = line.find(&format!("\"{name}\":"))? + name.len() + 3;
        let rest = &line[at..];
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        rest[..end].trim().parse().ok()
    };
    let phase = |name: &str| {
        out.lines()
            .find(|l| l.contains(&format!("\"phase\":\"{name}\"")))
            .and_then(|l| Some((field(l, "cpu_percent")?, field(l, "fps")?)))
    };
    let (Some((off_cpu, off_fps)), Some((blur_cpu, blur_fps))) = (phase("off"), phase("blur"))
    else {
        return println!("\n(the browser comparison printed no figures)\n{out}");
    };
    println!(
        "\nLiveKit's JS background blur (@livekit/track-processors) in Chromium, 1280×720 camera at 30 fps, software GL:\n"
    );
    println!("| Chromium showing the camera | CPU % of one core | pictures a second |");
    println!("|---|---|---|");
    println!("| as it is | {off_cpu:.1} | {off_fps:.1} |");
    println!("| blurred | {blur_cpu:.1} | {blur_fps:.1} |");
    println!(
        "| blur's own cost | {:.1} | {:.1} ms a picture |",
        blur_cpu - off_cpu,
        if blur_fps > 0.0 {
            (blur_cpu - off_cpu) * 10.0 / blur_fps
        } else {
            f64::NAN
        }
    );
}
