// Browser side of ../blur_bench.mjs: a local 1280x720@30 camera track shown in
// a <video>, and LiveKit's background blur (@livekit/track-processors, on
// MediaPipe tasks-vision's ImageSegmenter) switched on for the second phase.
// No room: a LocalVideoTrack takes a processor without being published.
// Bundled by esbuild (IIFE); the driver calls `window.bench` through Playwright.
import { BackgroundProcessor, supportsBackgroundProcessors, supportsModernBackgroundProcessors } from '@livekit/track-processors';
import { createLocalVideoTrack, type LocalVideoTrack } from 'livekit-client';

declare global {
  interface Window {
    bench: typeof api;
  }
}

let track: LocalVideoTrack | undefined;
let video: HTMLVideoElement | undefined;
// Frames the <video> has presented (requestVideoFrameCallback), summed over
// source switches (presentedFrames restarts when setProcessor swaps srcObject).
let presented = 0;
let lastPresentedFrames = -1;
// What the processor reports per segmented frame; its filterTimeMs is the
// whole transform (segmentation, then the WebGL blur and composite), all on
// the page's main thread.
const seg = { frames: 0, segmentationMs: 0, frameMs: 0 };

let frameCallback = 0;

function onFrame(_now: number, meta: VideoFrameCallbackMetadata): void {
  const pf = meta.presentedFrames;
  presented += lastPresentedFrames >= 0 && pf > lastPresentedFrames ? pf - lastPresentedFrames : 1;
  lastPresentedFrames = pf;
  frameCallback = video!.requestVideoFrameCallback(onFrame);
}

// A new source (setProcessor attaches the processed track) drops pending
// callbacks and restarts presentedFrames: ask again.
function watchFrames(): void {
  video!.cancelVideoFrameCallback(frameCallback);
  lastPresentedFrames = -1;
  frameCallback = video!.requestVideoFrameCallback(onFrame);
}

function glRenderer(): string {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return 'none';
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

const api = {
  async start(width: number, height: number, fps: number) {
    track = await createLocalVideoTrack({ resolution: { width, height, frameRate: fps } });
    video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    document.body.appendChild(video);
    video.addEventListener('loadstart', watchFrames);
    track.attach(video);
    watchFrames();
    await video.play();
    const s = track.mediaStreamTrack.getSettings();
    return {
      width: s.width,
      height: s.height,
      frameRate: s.frameRate,
      label: track.mediaStreamTrack.label,
      webgl: glRenderer(),
      supported: supportsBackgroundProcessors(),
      modern: supportsModernBackgroundProcessors(),
    };
  },

  // Counters at this instant; the driver takes differences over a phase.
  mark() {
    const q = video!.getVideoPlaybackQuality();
    return {
      t: performance.now(),
      presented,
      decoded: q.totalVideoFrames,
      dropped: q.droppedVideoFrames,
      seg: { ...seg },
      width: video!.videoWidth,
      height: video!.videoHeight,
    };
  },

  async blur(opts: { radius: number; delegate: 'GPU' | 'CPU'; wasm: string; model: string }) {
    const processor = BackgroundProcessor({
      mode: 'background-blur',
      blurRadius: opts.radius,
      segmenterOptions: { delegate: opts.delegate },
      assetPaths: { tasksVisionFileSet: opts.wasm, modelAssetPath: opts.model },
      onFrameProcessed: (s) => {
        seg.frames += 1;
        seg.segmentationMs += s.segmentationTimeMs;
        seg.frameMs += s.filterTimeMs;
      },
    });
    await track!.setProcessor(processor);
    // init() swallows nothing: a bad model or fileset rejects setProcessor.
    // Wait for the first segmented frame, so the phase measures steady state.
    const t0 = performance.now();
    while (seg.frames === 0) {
      if (performance.now() - t0 > 30000) throw new Error('no frame was segmented within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  },

  // A picture (URL) letterboxed onto a WxH canvas, returned as RGBA bytes
  // (base64), so the driver can write a Y4M file for Chromium's fake camera.
  async rasterize(url: string, width: number, height: number) {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d')!;
    // A backdrop with detail, so that blurring it changes the picture.
    const g = ctx.createLinearGradient(0, 0, width, height);
    g.addColorStop(0, '#5a7d9a');
    g.addColorStop(1, '#c9b79c');
    ctx.fillStyle = g;
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = 'rgba(40, 40, 40, 0.6)';
    for (let x = 0; x < width; x += 64) ctx.fillRect(x, 0, 8, height);
    const scale = Math.min(width / img.naturalWidth, height / img.naturalHeight);
    const w = img.naturalWidth * scale;
    const h = img.naturalHeight * scale;
    ctx.drawImage(img, (width - w) / 2, height - h, w, h);
    const data = ctx.getImageData(0, 0, width, height).data;
    let s = '';
    for (let i = 0; i < data.length; i += 0x8000) s += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return btoa(s);
  },
};

window.bench = api;
