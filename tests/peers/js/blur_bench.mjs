#!/usr/bin/env node
// What LiveKit's JS background blur (@livekit/track-processors, MediaPipe
// tasks-vision ImageSegmenter underneath) costs in Chromium on this machine.
//
//   node tests/peers/js/blur_bench.mjs [--seconds 10] [--video FILE.y4m | --image FILE.jpg]
//
// A local page (page/blur_bench.ts, no LiveKit server) opens a 1280x720@30
// camera track from Chromium's fake capture device and shows it in a <video>.
// Two phases of equal length follow: "off" (the camera as it is) and "blur"
// (BackgroundProcessor in background-blur mode set on the track). For each,
// one JSON line on stdout:
//
//   {"phase":"off","cpu_percent":..,"fps":..,...}
//   {"phase":"blur","cpu_percent":..,"fps":..,"segmented_fps":..,...}
//
// cpu_percent is utime+stime of every process under this one (Chromium's
// whole tree) over the phase's wall time; 100 = one core busy. fps is frames
// the <video> presented (requestVideoFrameCallback). Logs go to stderr.
//
// Everything is served from 127.0.0.1: the tasks-vision wasm fileset from
// node_modules, the model from models/ (MediaPipe's selfie segmentation with
// its ImageSegmenter metadata, see models/README.md); nothing is fetched.
//
// Options:
//   --seconds N     length of each phase (default 10)
//   --warmup N      seconds to settle before each phase (default 3)
//   --video FILE    a 4:2:0 Y4M file for the fake camera (its own size and rate)
//   --image FILE    a picture (JPEG/PNG) to make such a file from: letterboxed
//                   onto a striped 1280x720 backdrop, one frame, looped
//   --model M       general | landscape | PATH to a .tflite (default general)
//   --delegate D    GPU | CPU: MediaPipe's delegate (default GPU, the processor's own)
//   --blur-radius R (default 10, the processor's own)
//   --gl G          llvmpipe | swiftshader: the software GL driver for WebGL
//                   (default llvmpipe, Mesa's: a little faster here than SwiftShader)
//   --headless      headless even when $DISPLAY is set (headed there by default)
//   --chromium PATH (default $CHROMIUM or /usr/bin/chromium)
//   --screenshot F  a PNG of the page at the end of the blur phase
//   --verbose       the page's console.log/debug lines too
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { bundlePage } from './bundle.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const T0 = Date.now();
const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 30;
const MODELS = {
  general: path.join(HERE, 'models/selfie_segmentation.tflite'),
  landscape: path.join(HERE, 'models/selfie_segmentation_landscape.tflite'),
};
const GL_ARGS = {
  // Mesa's llvmpipe through ANGLE on EGL.
  llvmpipe: ['--use-angle=gl-egl', '--ignore-gpu-blocklist'],
  // Chromium's own SwiftShader (Vulkan) through ANGLE.
  swiftshader: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
};

const WASM_DIR = path.join(HERE, 'node_modules/@mediapipe/tasks-vision/wasm');

function log(...parts) {
  process.stderr.write(`blur_bench +${((Date.now() - T0) / 1000).toFixed(1)}s ${parts.join(' ')}\n`);
}

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    video: { type: 'string' },
    image: { type: 'string' },
    model: { type: 'string', default: 'general' },
    delegate: { type: 'string', default: 'GPU' },
    'blur-radius': { type: 'string', default: '10' },
    gl: { type: 'string', default: 'llvmpipe' },
    headless: { type: 'boolean', default: false },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    screenshot: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
  strict: true,
});
const SECONDS = Number(args.seconds);
const WARMUP = Number(args.warmup);
const DELEGATE = args.delegate.toUpperCase();
const MODEL = MODELS[args.model] ?? args.model;
if (!(SECONDS > 0) || !(WARMUP >= 0) || !['GPU', 'CPU'].includes(DELEGATE) || !Object.hasOwn(GL_ARGS, args.gl) || (args.video && args.image)) {
  process.stderr.write('usage: node blur_bench.mjs [--seconds N] [--video FILE.y4m | --image FILE] [--model general|landscape|PATH] [--delegate GPU|CPU]\n');
  process.exit(64);
}
for (const f of [MODEL, args.video, args.image]) {
  if (f && !fs.existsSync(f)) {
    log(`no such file: ${f} (run \`npm ci\` in ${HERE}?)`);
    process.exit(2);
  }
}
const HEADED = Boolean(process.env.DISPLAY) && !args.headless;

// The processor needs WebGL2 and this machine has no GPU: WebGL runs on a
// software GL driver (--gl). The page itself is composited in software
// (Skia), not through that driver: with SwiftShader compositing, a 720p
// <video> alone kept the GPU process at ~100% of a core. Background
// throttling off, so a headed window counted as hidden still runs at full rate.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-gpu-compositing',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--use-fake-ui-for-media-stream',
  `--use-fake-device-for-media-stream=fps=${FPS}`, // its own pattern runs at 20 fps by default
  '--autoplay-policy=no-user-gesture-required',
];

const PAGE_HTML = '<!doctype html><html><head><meta charset="utf-8"><title>tandem blur bench</title>' +
  '<link rel="icon" href="data:,"><style>body { margin: 0; background: #000 } ' +
  'video { display: block; width: 100vw; height: 100vh; object-fit: contain }</style></head>' +
  '<body><script src="/bench.js"></script></body></html>';

// http://127.0.0.1 is a secure context (getUserMedia needs one).
function serve(bundle) {
  const send = (res, type, body) => {
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  return new Promise((resolve, reject) => {
    const srv = http.createServer((req, res) => {
      const url = (req.url || '/').split('?')[0];
      const wasm = /^\/wasm\/(\w+\.(?:js|wasm))$/.exec(url);
      if (url === '/') send(res, 'text/html; charset=utf-8', PAGE_HTML);
      else if (url === '/bench.js') send(res, 'text/javascript; charset=utf-8', bundle);
      else if (url === '/model.tflite') send(res, 'application/octet-stream', fs.readFileSync(MODEL));
      else if (url === '/image' && args.image) send(res, 'application/octet-stream', fs.readFileSync(args.image));
      else if (wasm && fs.existsSync(path.join(WASM_DIR, wasm[1]))) {
        const type = wasm[1].endsWith('.wasm') ? 'application/wasm' : 'text/javascript; charset=utf-8';
        send(res, type, fs.readFileSync(path.join(WASM_DIR, wasm[1])));
      } else {
        log(`404 ${url}`);
        res.writeHead(404);
        res.end();
      }
    });
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

async function openPage(chromium, origin, extraArgs, headed) {
  const browser = await chromium.launch({
    executablePath: args.chromium,
    headless: false, // --headless=new is passed explicitly, as in js_peer.mjs
    args: [...CHROMIUM_ARGS, ...GL_ARGS[args.gl], ...extraArgs, ...(headed ? [`--window-size=${WIDTH},${HEIGHT}`] : ['--headless=new'])],
    timeout: 30000,
  });
  const context = await browser.newContext({ permissions: ['camera'], viewport: { width: WIDTH, height: HEIGHT } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (args.verbose || ['error', 'warning'].includes(m.type())) process.stderr.write(`[browser] ${m.type()}: ${m.text()}\n`);
  });
  page.on('pageerror', (e) => process.stderr.write(`[browser] pageerror: ${e.stack || e}\n`));
  await page.goto(`${origin}/`, { waitUntil: 'load' });
  await page.waitForFunction(() => typeof window.bench === 'object', null, { timeout: 10000 });
  return { browser, page };
}

// --image: the picture drawn by Chromium itself (it decodes JPEG and PNG),
// converted here to one I420 frame (BT.601, limited range) of a Y4M file.
async function makeY4m(chromium, origin, out) {
  const { browser, page } = await openPage(chromium, origin, [], false);
  try {
    const rgba = Buffer.from(await page.evaluate(([w, h]) => window.bench.rasterize('/image', w, h), [WIDTH, HEIGHT]), 'base64');
    const y = Buffer.alloc(WIDTH * HEIGHT);
    const u = Buffer.alloc((WIDTH / 2) * (HEIGHT / 2));
    const v = Buffer.alloc(u.length);
    for (let i = 0; i < WIDTH * HEIGHT; i++) {
      const [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
      y[i] = Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b);
    }
    for (let row = 0; row < HEIGHT / 2; row++) {
      for (let col = 0; col < WIDTH / 2; col++) {
        let [r, g, b] = [0, 0, 0];
        for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
          const p = 4 * ((2 * row + dy) * WIDTH + 2 * col + dx);
          r += rgba[p] / 4;
          g += rgba[p + 1] / 4;
          b += rgba[p + 2] / 4;
        }
        u[row * (WIDTH / 2) + col] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
        v[row * (WIDTH / 2) + col] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
      }
    }
    fs.writeFileSync(out, Buffer.concat([Buffer.from(`YUV4MPEG2 W${WIDTH} H${HEIGHT} F${FPS}:1 Ip A1:1 C420jpeg\nFRAME\n`), y, u, v]));
  } finally {
    await browser.close();
  }
}

// utime+stime (clock ticks) of every process below `root`, by pid.
function treeTicks(root) {
  const info = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    info.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
  }
  const ticks = new Map();
  const walk = (pid) => {
    for (const [child, p] of info) {
      if (p.ppid === pid && !ticks.has(child)) {
        ticks.set(child, p.ticks);
        walk(child);
      }
    }
  };
  walk(root);
  return ticks;
}

// Chromium's --type= (renderer, gpu-process, utility...), "browser" without one.
function processType(pid) {
  try {
    // Chromium rewrites its children's command lines with spaces for NULs.
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
    if (!argv[0].includes('chrom')) return path.basename(argv[0]);
    const type = argv.find((a) => a.startsWith('--type='))?.slice(7) ?? 'browser';
    const sub = argv.find((a) => a.startsWith('--utility-sub-type='))?.slice(19).split('.').pop();
    return sub ? `${type}:${sub}` : type;
  } catch {
    return 'gone';
  }
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

// One phase: counters before and after `SECONDS` of wall time.
async function measure(page, phase, extra) {
  const ticks0 = treeTicks(process.pid);
  const wall0 = process.hrtime.bigint();
  const m0 = await page.evaluate(() => window.bench.mark());
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const m1 = await page.evaluate(() => window.bench.mark());
  const ticks1 = treeTicks(process.pid);
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
  let used = 0;
  const byType = {};
  for (const [pid, t] of ticks1) {
    const d = t - (ticks0.get(pid) ?? 0);
    used += d;
    const type = processType(pid);
    byType[type] = (byType[type] ?? 0) + d;
  }
  for (const k of Object.keys(byType)) byType[k] = Number(((100 * byType[k]) / CLK_TCK / wall).toFixed(1));
  log(`${phase}: cpu% by process ${JSON.stringify(byType)}`);
  const dt = (m1.t - m0.t) / 1000;
  const segFrames = m1.seg.frames - m0.seg.frames;
  const cpuPercent = (100 * used) / CLK_TCK / wall;
  const fps = (m1.presented - m0.presented) / dt;
  const line = {
    phase,
    cpu_percent: Number(cpuPercent.toFixed(1)),
    fps: Number(fps.toFixed(2)),
    // CPU time the browser spent per frame it showed (10 * percent = ms per second).
    cpu_ms_per_frame: fps > 0 ? Number(((10 * cpuPercent) / fps).toFixed(1)) : null,
    decoded_fps: Number(((m1.decoded - m0.decoded) / dt).toFixed(2)),
    dropped: m1.dropped - m0.dropped,
    seconds: Number(wall.toFixed(2)),
    width: m1.width,
    height: m1.height,
    processes: ticks1.size,
    cores: os.cpus().length,
    // The machine's 1-minute load: other work there slows the browser down.
    load1: Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
    browser: HEADED ? 'headed' : 'headless',
    gl: args.gl,
    ...extra,
  };
  if (phase !== 'off') {
    line.segmented_fps = Number((segFrames / dt).toFixed(2));
    line.segmentation_ms = segFrames ? Number(((m1.seg.segmentationMs - m0.seg.segmentationMs) / segFrames).toFixed(2)) : null;
    line.frame_ms = segFrames ? Number(((m1.seg.frameMs - m0.seg.frameMs) / segFrames).toFixed(2)) : null;
  }
  process.stdout.write(JSON.stringify(line) + '\n');
}

async function main() {
  let esbuild;
  let chromium;
  try {
    esbuild = await import('esbuild');
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`${e.message} (run \`npm ci\` in ${HERE})`);
  }
  const server = await serve(await bundlePage(esbuild, 'blur_bench.ts'));
  const origin = `http://127.0.0.1:${server.address().port}`;
  let tmp;
  let browser;
  try {
    let video = args.video;
    if (args.image) {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blur-bench-'));
      video = path.join(tmp, 'camera.y4m');
      await makeY4m(chromium, origin, video);
      log(`made ${video} from ${args.image}`);
    }
    const camera = video ? [`--use-file-for-fake-video-capture=${path.resolve(video)}`] : [];
    let page;
    ({ browser, page } = await openPage(chromium, origin, camera, HEADED));
    log(`chromium ${browser.version()} ${HEADED ? `headed on ${process.env.DISPLAY}` : 'headless'}, page at ${origin}/`);
    const info = await page.evaluate(([w, h, f]) => window.bench.start(w, h, f), [WIDTH, HEIGHT, FPS]);
    log(`camera ${JSON.stringify(info)}`);
    if (!info.supported) throw new Error('track-processors says this browser cannot run background processors');

    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    await measure(page, 'off', {});

    const t = Date.now();
    await page.evaluate((o) => window.bench.blur(o), {
      radius: Number(args['blur-radius']),
      delegate: DELEGATE,
      wasm: `${origin}/wasm`,
      model: `${origin}/model.tflite`,
    });
    log(`blur on after ${Date.now() - t} ms (delegate ${DELEGATE}, model ${MODEL})`);
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    await measure(page, 'blur', { delegate: DELEGATE, model: path.basename(MODEL) });
    if (args.screenshot) await page.screenshot({ path: args.screenshot });
  } finally {
    await browser?.close().catch(() => {});
    server.closeAllConnections?.();
    server.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  log(`failed: ${e instanceof Error ? e.stack : e}`);
  process.exit(1);
});
