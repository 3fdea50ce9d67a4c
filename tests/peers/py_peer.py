#!/usr/bin/env python3
"""Tandem interop test peer built on LiveKit's Python SDK (pinned: livekit==1.2.1).

    python3 py_peer.py --url ws://HOST:PORT --token JWT [--auto-subscribe 1] [--audio-frame-ms N]
                       [--audio-push-ms N] [--video-frames read|decoded]

Protocol: JSON-line commands on stdin ({"cmd": ..., "id": optional}), JSON-line
events on stdout (one object per line, flushed). Every command is answered with
{"event":"ok","cmd","id"} or {"event":"error","cmd","id","message"}; "stats" also
emits an {"event":"stats",...} line just before its "ok". Logs go to stderr.
Exit codes: 0 after "disconnect" or stdin EOF, 2 when the initial connect fails.
"""
import argparse
import asyncio
import base64
import json
import logging
import os
import sys
import threading
import time

# Reserve the real stdout for protocol lines and point fd 1 at stderr, so nothing
# else (Python prints, or the native FFI library writing to fd 1) can corrupt it.
_OUT = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr

import numpy as np  # noqa: E402
from livekit import rtc  # noqa: E402

log = logging.getLogger("py_peer")
AUDIO_RATE = 48000  # rate requested from every AudioStream (mono)
CHAT_TOPIC = "lk.chat"


def read_stamp(frame):
    """Reads the frame counter and capture time Tandem's test pattern draws:
    two rows of 40 black/white blocks (width // 40 px, even) at the top left;
    row 0 = 32-bit counter + 8-bit check, row 1 = capture ms (low 40 bits);
    check = XOR of the nine payload bytes with 0x5A. None when absent."""
    i420 = frame.convert(rtc.VideoBufferType.I420)
    w, h = i420.width, i420.height
    b = (w // 40) & ~1
    if b < 2 or h < 2 * b:
        return None
    y = np.frombuffer(i420.data, dtype=np.uint8)[: w * h].reshape(h, w).astype(np.int32)
    bits = []
    for i in range(80):
        band, col = divmod(i, 40)
        cy, cx = band * b + b // 2, col * b + b // 2
        bits.append(int(y[cy - 1:cy + 1, cx - 1:cx + 1].mean() >= 128))
    data = bytes(int("".join(map(str, bits[k:k + 8])), 2) for k in range(0, 80, 8))
    check = 0x5A
    for v in data[:4] + data[5:]:
        check ^= v
    if check != data[4]:
        return None
    return {"counter": int.from_bytes(data[:4], "big"), "time_ms": int.from_bytes(data[5:], "big")}


def emit(event, **fields):
    try:
        _OUT.write(json.dumps({"event": event, **fields}) + "\n")
        _OUT.flush()
    except (OSError, ValueError):  # reader went away; nothing useful left to do
        pass


def kind_name(kind):
    return {rtc.TrackKind.KIND_VIDEO: "video", rtc.TrackKind.KIND_AUDIO: "audio"}.get(kind, "unknown")


def enum_name(enum, value):
    try:
        return enum.Name(value)
    except ValueError:
        return str(value)


async def close_stream(stream):
    # aclose() disposes the native stream and awaits the SDK's reader task, which
    # ends once the FFI sends end-of-stream; bound it so teardown can never hang.
    try:
        await asyncio.wait_for(stream.aclose(), 2.0)
    except BaseException as e:  # noqa: BLE001 - best effort cleanup
        log.debug("stream close: %r", e)


class AudioStat:
    """Ring buffer holding the last second of received mono int16 audio."""

    def __init__(self):
        self.buf = np.zeros(AUDIO_RATE, dtype=np.int16)
        self.pos = self.filled = self.frames = 0
        self.recording = None  # a list of chunks while record_audio runs

    def push(self, x):
        if self.recording is not None:
            self.recording.append(x.copy())
        n, size = len(x), len(self.buf)
        if n >= size:
            self.buf[:] = x[-size:]
            self.pos = 0
        else:
            k = min(n, size - self.pos)
            self.buf[self.pos:self.pos + k] = x[:k]
            self.buf[:n - k] = x[k:]
            self.pos = (self.pos + n) % size
        self.filled = min(size, self.filled + n)

    def summary(self):
        m = min(self.filled, AUDIO_RATE // 2)  # analyse the most recent ~0.5 s
        x = np.roll(self.buf, -self.pos)[len(self.buf) - m:].astype(np.float64) / 32768.0
        rms = float(np.sqrt(np.mean(x * x))) if m else 0.0
        freq = 0.0
        if m >= 480 and rms > 1e-4:
            spec = np.abs(np.fft.rfft(x * np.hanning(m)))
            spec[0] = 0.0
            k = int(np.argmax(spec))
            off = 0.0
            if 0 < k < len(spec) - 1:  # parabolic interpolation on log magnitude
                a, b, c = np.log(spec[k - 1:k + 2] + 1e-12)
                den = a - 2 * b + c
                off = 0.5 * (a - c) / den if den else 0.0
            freq = (k + off) * AUDIO_RATE / m
        return {"frames": self.frames, "freq": round(float(freq), 1), "rms": round(rms, 4)}


class Peer:
    def __init__(self, args):
        self.args = args
        self.room = rtc.Room()
        self.readers = {}  # remote track sid -> reader task
        self.video_stats = {}  # identity -> {"frames", "last": VideoFrame}
        self.audio_stats = {}  # identity -> AudioStat
        self.local = {}  # "video"/"audio" -> (publication, track, source, pusher task)
        self.bg = set()  # strong refs to fire-and-forget tasks
        self.disconnected_sent = False
        self.open_streams = []  # text streams left open on purpose

    def spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self.bg.add(task)
        task.add_done_callback(self.bg.discard)
        return task

    # ---- room events (the SDK calls these synchronously from its listen task) ----
    def register_events(self):
        r = self.room
        r.on("participant_connected", lambda p: emit(
            "participant_connected", identity=p.identity, name=p.name, metadata=p.metadata))
        r.on("participant_disconnected", lambda p: emit("participant_disconnected", identity=p.identity))
        r.on("track_subscribed", self.on_track_subscribed)
        r.on("track_unsubscribed", self.on_track_unsubscribed)
        r.on("track_subscription_failed", lambda p, sid, err: emit(
            "track_subscription_failed", identity=p.identity, sid=sid, message=str(err)))
        r.on("track_muted", lambda p, pub: emit("track_muted", identity=p.identity, kind=kind_name(pub.kind)))
        r.on("track_unmuted", lambda p, pub: emit("track_unmuted", identity=p.identity, kind=kind_name(pub.kind)))
        r.on("data_received", lambda pkt: emit(
            "data", sender=pkt.participant.identity if pkt.participant else "",
            payload=pkt.data.decode("utf-8", errors="replace"), topic=pkt.topic or ""))
        r.on("participant_metadata_changed", lambda p, old, new: emit(
            "participant_metadata_changed", identity=p.identity, metadata=new))
        r.on("participant_attributes_changed", lambda changed, p: emit(
            "participant_attributes_changed", identity=p.identity, attributes=dict(p.attributes),
            changed=dict(changed)))
        r.on("participant_name_changed", lambda p, old, new: emit(
            "participant_name_changed", identity=p.identity, name=new))
        r.on("reconnecting", lambda: emit("reconnecting"))
        r.on("reconnected", lambda: emit("reconnected"))
        # state is reported as "connected" / "reconnecting" / "disconnected"
        r.on("connection_state_changed", lambda s: emit(
            "connection_state", state=enum_name(rtc.ConnectionState, s).replace("CONN_", "").lower()))
        r.on("disconnected", self.on_disconnected)
        # Per participant (ours too): "ok", "decryption_failed", "missing_key"...
        r.on("e2ee_state_changed", lambda p, state: emit(
            "e2ee_state", identity=getattr(p, "identity", ""),
            state=enum_name(rtc.EncryptionState, state).lower()))
        # Text-stream handlers are per topic and synchronous: (reader, sender identity).
        r.register_text_stream_handler(CHAT_TOPIC, lambda reader, sender: self.spawn(self.read_chat(reader, sender)))

    def on_disconnected(self, reason):
        # Room.disconnect() emits "disconnected" itself when the FFI did not, so dedupe.
        if not self.disconnected_sent:
            self.disconnected_sent = True
            emit("disconnected", reason=enum_name(rtc.DisconnectReason, reason))

    async def read_chat(self, reader, sender):
        try:
            emit("chat", sender=sender, text=await reader.read_all())
        except Exception as e:  # noqa: BLE001 - aborted stream / disconnect
            log.warning("chat stream from %s failed: %r", sender, e)

    def on_track_subscribed(self, track, pub, participant):
        emit("track_subscribed", identity=participant.identity, kind=kind_name(track.kind), sid=track.sid,
             source=enum_name(rtc.TrackSource, pub.source), mime=pub.mime_type)
        old = self.readers.pop(track.sid, None)  # re-subscription (e.g. after a full reconnect)
        if old:
            old.cancel()
        # A shared screen's stats sit apart from the camera's: "<identity>#screen".
        key = participant.identity + ("#screen" if pub.source == rtc.TrackSource.SOURCE_SCREENSHARE else "")
        if track.kind == rtc.TrackKind.KIND_VIDEO and self.args.video_frames == "decoded":
            # Counted by WebRTC's decoder (see cmd_stats), not read here.
            self.video_stats[key] = {"frames": 0, "last": None, "track": track}
        elif track.kind == rtc.TrackKind.KIND_VIDEO:
            self.readers[track.sid] = self.spawn(self.read_video(track, key))
        elif track.kind == rtc.TrackKind.KIND_AUDIO:
            self.readers[track.sid] = self.spawn(self.read_audio(track, participant.identity))

    def on_track_unsubscribed(self, track, pub, participant):
        emit("track_unsubscribed", identity=participant.identity, kind=kind_name(pub.kind), sid=pub.sid)
        task = self.readers.pop(pub.sid, None)
        if task:
            # Needed: on end-of-stream VideoStream's iterator does not wake a pending
            # __anext__ (only AudioStream enqueues a terminator), so cancel explicitly.
            task.cancel()

    async def read_video(self, track, identity):
        st = self.video_stats[identity] = {"frames": 0, "last": None}
        stream = rtc.VideoStream(track, capacity=4)  # native buffers (usually I420)
        try:
            async for ev in stream:
                st["frames"] += 1
                st["last"] = ev.frame  # already copied out of FFI memory by the SDK
                st["last_at_ms"] = time.time() * 1000
        finally:
            await close_stream(stream)

    async def read_audio(self, track, identity):
        st = self.audio_stats[identity] = AudioStat()
        # Larger frames mean fewer Python wake-ups (soak tests run many peers).
        stream = rtc.AudioStream(track, sample_rate=AUDIO_RATE, num_channels=1,
                                 frame_size_ms=self.args.audio_frame_ms)
        try:
            async for ev in stream:
                st.frames += 1
                st.push(np.frombuffer(ev.frame.data, dtype=np.int16))  # data is an int16 memoryview
        finally:
            await close_stream(stream)

    # ---- local media pushers ----
    async def push_video(self, source, frame, fps):
        period, t_next = 1.0 / fps, time.monotonic()
        while True:
            source.capture_frame(frame)  # synchronous; timestamp 0 => stamped "now" natively
            t_next += period
            delay = t_next - time.monotonic()
            if delay <= 0:
                t_next = time.monotonic()
            await asyncio.sleep(max(delay, 0))

    async def push_audio(self, source, freq, rate):
        n = rate * self.args.audio_push_ms // 1000  # 10 ms frames unless asked otherwise
        step = 2 * np.pi * freq / rate
        phase = 0.0
        t_next = time.monotonic() - 0.03  # start ~3 frames ahead so the native queue never runs dry
        while True:
            pcm = (0.3 * 32767 * np.sin(phase + step * np.arange(n))).astype(np.int16)
            phase = (phase + step * n) % (2 * np.pi)
            # capture_frame only blocks once the native queue (queue_size_ms) is full,
            # so real-time pacing is done here.
            await source.capture_frame(rtc.AudioFrame(bytearray(pcm.tobytes()), rate, 1, n))
            t_next += n / rate
            delay = t_next - time.monotonic()
            if delay < -0.2:  # fell far behind (loop stall): resync instead of bursting
                t_next = time.monotonic()
            await asyncio.sleep(max(delay, 0))

    # ---- commands ----
    async def cmd_publish_video(self, c):
        # "source": "screen_share" publishes a shared screen (kept as kind
        # "screen", beside a camera's "video").
        screen = c.get("source") == "screen_share"
        kind = "screen" if screen else "video"
        if kind in self.local:
            raise RuntimeError(f"{kind} already published")
        w, h, fps = int(c.get("width", 320)), int(c.get("height", 240)), float(c.get("fps", 15))
        r, g, b = (int(v) for v in c.get("color", [255, 0, 0]))
        rgba = bytearray(np.tile(np.array([r, g, b, 255], dtype=np.uint8), w * h).tobytes())
        frame = rtc.VideoFrame(w, h, rtc.VideoBufferType.RGBA, rgba)
        source = rtc.VideoSource(w, h)
        track = rtc.LocalVideoTrack.create_video_track(c.get("name", "screen" if screen else "cam"), source)
        # TrackPublishOptions is a protobuf message; simulcast is an optional field,
        # leaving it unset keeps the native default (simulcast on).
        opts = rtc.TrackPublishOptions(
            source=rtc.TrackSource.SOURCE_SCREENSHARE if screen else rtc.TrackSource.SOURCE_CAMERA)
        if "simulcast" in c:
            opts.simulcast = bool(c["simulcast"])
        pub = await self.room.local_participant.publish_track(track, opts)
        self.local[kind] = (pub, track, source, self.spawn(self.push_video(source, frame, fps)))

    async def cmd_publish_audio(self, c):
        if "audio" in self.local:
            raise RuntimeError("audio already published")
        rate, freq = int(c.get("sample_rate", 48000)), float(c.get("freq", 440))
        source = rtc.AudioSource(rate, 1)
        track = rtc.LocalAudioTrack.create_audio_track(c.get("name", "mic"), source)
        opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        pub = await self.room.local_participant.publish_track(track, opts)
        self.local["audio"] = (pub, track, source, self.spawn(self.push_audio(source, freq, rate)))

    def published(self, kind):
        if kind not in self.local:
            raise RuntimeError(f"no {kind} track published")
        return self.local[kind]

    async def cmd_unpublish(self, c):
        pub, _track, source, pusher = self.published(c.get("kind"))
        del self.local[c["kind"]]
        pusher.cancel()
        await self.room.local_participant.unpublish_track(pub.sid)
        await source.aclose()

    async def cmd_mute(self, c):
        track = self.published(c.get("kind"))[1]
        # LocalVideoTrack/LocalAudioTrack.mute()/unmute() are synchronous FFI requests.
        track.mute() if c.get("muted", True) else track.unmute()

    async def cmd_set_key(self, c):
        # A new passphrase mid-call, at key index 0 (where the JS SDK puts it).
        provider = self.room.e2ee_manager.key_provider
        if provider is None:
            raise RuntimeError("this peer joined without encryption")
        provider.set_shared_key(str(c["key"]).encode(), 0)

    async def cmd_send_data(self, c):
        # "payload_b64" carries raw bytes (e.g. invalid UTF-8); "payload" text.
        payload = base64.b64decode(c["payload_b64"]) if "payload_b64" in c else str(c.get("payload", ""))
        await self.room.local_participant.publish_data(
            payload, reliable=bool(c.get("reliable", True)),
            destination_identities=list(c.get("destinations") or []), topic=str(c.get("topic", "")))

    async def cmd_send_chat(self, c):
        await self.room.local_participant.send_text(
            str(c.get("text", "")), topic=str(c.get("topic", CHAT_TOPIC)),
            destination_identities=c.get("destinations"))

    async def cmd_send_file(self, c):
        """Sends "size" bytes of "seed"-made data as a file named "name" on the
        chat topic (send_file); emits file_sent {sha256} before its ok."""
        import hashlib
        import random
        import tempfile
        data = random.Random(int(c.get("seed", 1))).randbytes(int(c.get("size", 0)))
        folder = tempfile.mkdtemp(prefix="py-peer-file-")
        path = os.path.join(folder, os.path.basename(str(c.get("name", "file.bin"))) or "file.bin")
        with open(path, "wb") as f:
            f.write(data)
        try:
            await self.room.local_participant.send_file(path, topic=str(c.get("topic", CHAT_TOPIC)))
        finally:
            os.remove(path)
            os.rmdir(folder)
        emit("file_sent", id=c.get("id"), sha256=hashlib.sha256(data).hexdigest(), size=len(data))

    async def cmd_send_chat_many(self, c):
        """Sends "count" chat messages "<prefix><i>" (i from 1), in order, each
        awaited before the next; answers with how long it took."""
        started = time.monotonic()
        prefix, lp = str(c.get("prefix", "")), self.room.local_participant
        for i in range(1, int(c.get("count", 1)) + 1):
            await lp.send_text(f"{prefix}{i}", topic=CHAT_TOPIC)
        emit("sent_many", id=c.get("id"), seconds=round(time.monotonic() - started, 2))

    async def cmd_open_text_stream(self, c):
        """Opens a text stream, writes "text" and leaves it open (never ends)."""
        writer = await self.room.local_participant.stream_text(topic=str(c.get("topic", CHAT_TOPIC)))
        await writer.write(str(c.get("text", "")))
        self.open_streams.append(writer)

    async def cmd_set_attributes(self, c):
        await self.room.local_participant.set_attributes({str(k): str(v) for k, v in dict(c.get("attributes", {})).items()})

    # NB: set_metadata/set_name await the FFI callback but the SDK ignores its error field.
    async def cmd_set_metadata(self, c):
        await self.room.local_participant.set_metadata(str(c.get("metadata", "")))

    async def cmd_set_name(self, c):
        await self.room.local_participant.set_name(str(c.get("name", "")))

    @staticmethod
    async def frames_decoded(track):
        """Frames WebRTC decoded for `track` (its inbound RTP stream's count)."""
        for s in await track.get_stats():
            if s.WhichOneof("stats") == "inbound_rtp":
                return s.inbound_rtp.inbound.frames_decoded
        return 0

    async def cmd_stats(self, c):
        video = {}
        # A copy: the awaits below let a track arrive or leave meanwhile.
        for st in list(self.video_stats.values()):
            if "track" in st:
                st["frames"] = await self.frames_decoded(st["track"])
        for ident, st in list(self.video_stats.items()):
            entry = {"frames": st["frames"], "width": 0, "height": 0, "color": None}
            f = st["last"]
            if f is not None:
                rgba = f.convert(rtc.VideoBufferType.RGBA)  # synchronous FFI conversion
                h, w = rgba.height, rgba.width
                px = np.frombuffer(rgba.data, dtype=np.uint8).reshape(h, w, 4)
                centre = px[h // 4:h - h // 4, w // 4:w - w // 4, :3]
                entry.update(width=f.width, height=f.height,
                             color=[int(round(v)) for v in centre.reshape(-1, 3).mean(axis=0)],
                             stamp=read_stamp(f))
                if entry["stamp"] is not None:
                    # Capture (drawn into the picture) to receipt, in ms.
                    now = int(st["last_at_ms"])
                    entry["latency_ms"] = now - ((now & ~((1 << 40) - 1)) | entry["stamp"]["time_ms"])
            video[ident] = entry
        audio = {ident: st.summary() for ident, st in self.audio_stats.items()}
        emit("stats", id=c.get("id"), video=video, audio=audio)

    def audio_of(self, c):
        st = self.audio_stats.get(c["identity"])
        if st is None:
            raise ValueError(f"no audio from {c['identity']!r}")
        return st

    async def cmd_record_audio(self, c):
        """Keeps everything `identity` sends from now on (48 kHz mono)."""
        self.audio_of(c).recording = []

    async def cmd_save_audio(self, c):
        """Stops recording `identity` and writes it to `path` as raw s16le."""
        st = self.audio_of(c)
        chunks, st.recording = st.recording or [], None
        data = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        with open(c["path"], "wb") as f:
            f.write(data.astype("<i2").tobytes())
        emit("saved", id=c.get("id"), samples=int(len(data)))

    async def cmd_save_frame(self, c):
        """Writes the newest picture from `identity` to `path` as a PPM (RGB)."""
        st = self.video_stats.get(c["identity"])
        if st is None or st["last"] is None:
            raise ValueError(f"no picture from {c['identity']!r}")
        rgba = st["last"].convert(rtc.VideoBufferType.RGBA)
        px = np.frombuffer(rgba.data, dtype=np.uint8).reshape(rgba.height, rgba.width, 4)
        with open(c["path"], "wb") as f:
            f.write(f"P6\n{rgba.width} {rgba.height}\n255\n".encode())
            f.write(np.ascontiguousarray(px[:, :, :3]).tobytes())
        emit("saved", id=c.get("id"), width=rgba.width, height=rgba.height)

    # ---- main loop ----
    async def shutdown(self):
        for _pub, _track, _source, pusher in self.local.values():
            pusher.cancel()
        for task in self.readers.values():
            task.cancel()
        try:
            await asyncio.wait_for(self.room.disconnect(), 10.0)  # no-op if already disconnected
        except Exception as e:  # noqa: BLE001
            log.warning("disconnect failed: %r", e)
        self.on_disconnected(rtc.DisconnectReason.CLIENT_INITIATED)

    async def run(self):
        self.register_events()
        started = time.monotonic()
        try:
            options = rtc.RoomOptions(auto_subscribe=bool(self.args.auto_subscribe))
            key = self.args.e2ee_key
            if key:
                # The passphrase as bytes, with the SDK's default salt: what
                # LiveKit's JS SDK derives from the same passphrase.
                options.encryption = rtc.E2EEOptions(
                    key_provider_options=rtc.KeyProviderOptions(
                        shared_key=key.encode(),
                        ratchet_window_size=self.args.e2ee_ratchet_window))
            await self.room.connect(self.args.url, self.args.token, options)
        except Exception as e:  # ConnectError carries .message; others (bad URL...) str()
            emit("error", where="connect", message=getattr(e, "message", None) or str(e) or repr(e))
            return 2
        # No await between connect() returning and this line, so no room event
        # (queued for the SDK's listen task) can be emitted before "connected".
        lp = self.room.local_participant
        emit("connected", identity=lp.identity, sid=lp.sid, room=self.room.name,
             participants=list(self.room.remote_participants.keys()),
             connect_ms=round((time.monotonic() - started) * 1000, 1))

        loop, lines = asyncio.get_running_loop(), asyncio.Queue()

        def pump():  # blocking stdin reads live on a thread, handed to the loop
            for raw in iter(sys.stdin.buffer.readline, b""):
                loop.call_soon_threadsafe(lines.put_nowait, raw)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=pump, name="stdin", daemon=True).start()
        while True:
            raw = await lines.get()
            if raw is None:  # EOF: disconnect and exit 0
                await self.shutdown()
                return 0
            if not raw.strip():
                continue
            name = cid = None
            try:
                c = json.loads(raw)
                if not isinstance(c, dict):
                    raise ValueError("command must be a JSON object")
                name, cid = c.get("cmd"), c.get("id")
                if name == "disconnect":
                    await self.shutdown()
                    emit("ok", cmd=name, id=cid)
                    return 0
                handler = getattr(self, f"cmd_{name}", None) if isinstance(name, str) else None
                if handler is None:
                    raise ValueError(f"unknown command {name!r}")
                await handler(c)
                emit("ok", cmd=name, id=cid)
            except Exception as e:  # noqa: BLE001 - never die on a bad command
                log.exception("command %s failed", name)
                emit("error", cmd=name, id=cid, message=str(e) or repr(e))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--auto-subscribe", type=int, default=1)
    ap.add_argument("--audio-frame-ms", type=int, default=None,
                    help="size of received audio frames (default: the SDK's 10 ms)")
    ap.add_argument("--audio-push-ms", type=int, default=10,
                    help="size of the frames the tone is pushed in (larger: fewer Python "
                         "wake-ups when many peers share few cores)")
    ap.add_argument("--video-frames", choices=["read", "decoded"], default="read",
                    help="read every received frame (default; stats then tell its colour and "
                         "stamp), or only count the frames WebRTC decoded (far less CPU)")
    ap.add_argument("--e2ee-key", default=None,
                    help="encrypt media end to end with this shared passphrase")
    ap.add_argument("--e2ee-ratchet-window", type=int, default=16,
                    help="ratchet steps tried on a frame that does not decrypt (the SDK's default: 16;"
                         " 0 lets it recover after a key change, as Tandem does)")
    args = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("PY_PEER_LOG", "INFO"),
                        format="py_peer %(levelname)s %(name)s: %(message)s")

    async def amain():
        code = await Peer(args).run()
        _OUT.flush()
        # Exit right here, skipping asyncio/interpreter teardown: the native FFI
        # runtime and the thread blocked on stdin can otherwise delay or hang exit.
        os._exit(code)

    asyncio.run(amain())


if __name__ == "__main__":
    main()
