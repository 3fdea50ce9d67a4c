#!/usr/bin/env python3
"""Speech in noise for the noise-removal test, and its score.

    python3 denoise_audio.py make DIR
        DIR/mix.s16     what the microphone hears (48 kHz mono s16le)
        DIR/clean.s16   the speech alone, sample for sample
        DIR/layout.json where each noise's noise-only and speech parts are
    python3 denoise_audio.py score DIR OFF.s16 ON.s16
        prints JSON: per noise, how much quieter the noise-only part came
        out with noise removal on than off (dB), and against the speech
        (the signal-to-noise gain, dB), the speech's intelligibility
        (STOI, 0..1) against the clean speech with it off and on, and how
        the speech's own level changed (dB; the noise left does not count).

The speech is espeak-ng's. The noises are made here, reproducibly: white
noise; typing (short bright clicks at a typist's irregular pace); and
babble (four other voices talking at once, as in a cafe).
"""
import json
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
from scipy.signal import correlate, resample_poly
from pystoi import stoi

RATE = 48000
SENTENCES = [
    "Let's look at your training plan for the next four weeks.",
    "Keep your back straight and breathe out as you lift.",
    "How did you sleep after last Thursday's long session?",
]
LEAD_IN = "Good morning. Shall we begin with a short warm up, as usual?"
BABBLE = [
    ("en+m3", "The weather was lovely at the market this morning, wasn't it."),
    ("en+f2", "I told him the meeting had moved to half past three on Friday."),
    ("en+m1", "Could you pass the sugar and the milk over here please."),
    ("en+f4", "We drove all the way to the coast and the road was closed."),
]
# Speech's level, and each noise's level against it (dB).
SPEECH_DBFS = -22.0
SNR_DB = {"white": 5.0, "typing": 0.0, "babble": 5.0}
NOISE_ONLY_S = 1.6
TAIL_S = 0.6


def resampled(x, rate):
    from math import gcd
    g = gcd(RATE, rate)
    return resample_poly(x, RATE // g, rate // g)


def speech(text, voice="en-us"):
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", f.name, text],
                       check=True, capture_output=True)
        with wave.open(f.name) as w:
            rate = w.getframerate()
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    return resampled(x / 32768.0, rate)


def rms(x):
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def active_rms(x):
    """RMS over the loud 10 ms frames (speech without its pauses)."""
    frames = x[: len(x) // 480 * 480].reshape(-1, 480)
    levels = np.sqrt(np.mean(frames ** 2, axis=1))
    loud = frames[levels > levels.max() * 0.1]
    return rms(loud.ravel())


def noise(kind, n, rng):
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "typing":
        out = np.zeros(n)
        t = int(rng.integers(0, RATE // 10))
        decay = np.exp(-np.arange(int(0.012 * RATE)) / (0.002 * RATE))
        while t < n:
            click = np.diff(rng.standard_normal(len(decay) + 1)) * decay * rng.uniform(0.5, 1.0)
            end = min(n, t + len(click))
            out[t:end] += click[: end - t]
            # A second, softer click as the key comes back up.
            up = t + int(rng.uniform(0.06, 0.1) * RATE)
            end = min(n, up + len(click))
            if up < n:
                out[up:end] += 0.4 * click[: end - up]
            t += int(rng.uniform(0.12, 0.3) * RATE)
        return out
    if kind == "babble":
        voices = [speech(text, voice) for voice, text in BABBLE]
        out = np.zeros(n)
        for i, v in enumerate(voices):
            v = v / active_rms(v)
            start = int(i * 0.37 * RATE) % max(1, len(v))
            looped = np.tile(np.roll(v, -start), n // len(v) + 1)[:n]
            out += looped
        return out
    raise ValueError(kind)


def make(folder):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    target = 10 ** (SPEECH_DBFS / 20)
    # A lead-in, not scored: the microphone's gain control settles on the
    # speech's level before each pass, so both passes start alike.
    lead = speech(LEAD_IN)
    lead = lead / active_rms(lead) * target
    lead = np.concatenate([lead, np.zeros(int(0.4 * RATE))])
    lead += rng.standard_normal(len(lead)) * target * 0.05
    mix, clean, layout = [lead], [np.zeros(len(lead))], []
    at = len(lead)
    for kind, text in zip(SNR_DB, SENTENCES):
        s = speech(text)
        s = s / active_rms(s) * target
        quiet, tail = int(NOISE_ONLY_S * RATE), int(TAIL_S * RATE)
        total = quiet + len(s) + tail
        nz = noise(kind, total, rng)
        nz = nz / rms(nz) * target * 10 ** (-SNR_DB[kind] / 20)
        cl = np.zeros(total)
        cl[quiet:quiet + len(s)] = s
        mix.append(cl + nz)
        clean.append(cl)
        layout.append({"noise": kind, "noise_only": [at, at + quiet],
                       "speech": [at + quiet, at + quiet + len(s)]})
        at += total
    to16 = lambda x: (np.clip(np.concatenate(x), -1, 1) * 32767).astype("<i2")  # noqa: E731
    (folder / "mix.s16").write_bytes(to16(mix).tobytes())
    (folder / "clean.s16").write_bytes(to16(clean).tobytes())
    (folder / "layout.json").write_text(json.dumps(layout))
    print(json.dumps({"seconds": round(at / RATE, 2)}))


def load(path):
    return np.frombuffer(Path(path).read_bytes(), dtype="<i2").astype(np.float64) / 32768.0


def lag_of(received, clean):
    """How many samples later `clean`'s sound starts in `received`."""
    c = correlate(received, clean, mode="full", method="fft")
    return int(np.argmax(c)) - (len(clean) - 1)


def part_of(received, start, end):
    """received[start:end], zeros where it has no samples."""
    out = np.zeros(end - start)
    a, b = max(0, start), min(len(received), end)
    if b > a:
        out[a - start:b - start] = received[a:b]
    return out


def speech_gain(received, clean):
    """How loud the speech itself came out: the least-squares gain of the
    clean speech in `received` (the noise, uncorrelated, does not count)."""
    return max(float(np.dot(received, clean) / np.dot(clean, clean)), 1e-9)


def measured(received, clean, part):
    """One part of one recording. The delay from the microphone to the peer
    changes as the jitter buffer adapts, so each part is lined up on its own
    speech (within 0.3 s of where the whole recording lines up)."""
    s0, s1 = part["speech"]
    whole = lag_of(received, clean)
    slack = int(0.3 * RATE)
    window = part_of(received, s0 + whole - slack, s1 + whole + slack)
    c = correlate(window, clean[s0:s1], mode="valid", method="fft")
    lag = whole - slack + int(np.argmax(c))
    a, b = part["noise_only"]
    a += int(0.4 * RATE)  # past the start, where a suppressor is still learning
    return {
        "lag": lag,
        "noise": rms(part_of(received, a + lag, b + lag)),
        "speech": part_of(received, s0 + lag, s1 + lag),
        "gain": speech_gain(part_of(received, s0 + lag, s1 + lag), clean[s0:s1]),
    }


def score(folder, off_path, on_path):
    folder = Path(folder)
    clean = load(folder / "clean.s16")
    layout = json.loads((folder / "layout.json").read_text())
    off_all, on_all = load(off_path), load(on_path)
    db = lambda x, y: round(20 * np.log10(max(x, 1e-9) / max(y, 1e-9)), 1)  # noqa: E731
    result = {}
    for part in layout:
        s0, s1 = part["speech"]
        off, on = measured(off_all, clean, part), measured(on_all, clean, part)
        reduction = db(off["noise"], on["noise"])
        speech = db(on["gain"], off["gain"])
        result[part["noise"]] = {
            "lag_ms": [round(off["lag"] / 48, 1), round(on["lag"] / 48, 1)],
            "noise_reduction_db": reduction,
            # Gain control may set another level in the second pass: the
            # noise's fall against the speech's is what a listener hears.
            "snr_gain_db": round(reduction + speech, 1),
            "stoi_off": round(float(stoi(clean[s0:s1], off["speech"], RATE)), 3),
            "stoi_on": round(float(stoi(clean[s0:s1], on["speech"], RATE)), 3),
            "speech_level_change_db": speech,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "score":
        score(*sys.argv[2:])
    else:
        sys.exit(__doc__)
