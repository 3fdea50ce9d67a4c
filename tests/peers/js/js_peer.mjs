#!/usr/bin/env node
// Tandem interop test peer built on LiveKit's JS SDK (livekit-client) running in
// Debian's headless Chromium, driven through playwright-core.
//
//   node tests/peers/js/js_peer.mjs --url ws://HOST:PORT --token JWT
//
// Protocol (same as ../py_peer.py): JSON-line commands on stdin ({"cmd": ..., "id":
// optional}), JSON-line events on stdout (one object per line). Every command is
// answered with {"event":"ok","cmd","id"} or {"event":"error","cmd","id","message"};
// "stats" also emits an {"event":"stats",...} line just before its "ok". Logs
// (including the browser console, prefixed "[browser]") go to stderr.
// Exit codes: 0 after "disconnect" or stdin EOF (or SIGTERM/SIGINT), 2 when the
// browser cannot be started or the initial connect fails, 1 when the browser dies.
//
// With --page p2p it is instead seed 004's session page (page/p2p.ts:
// RTCPeerConnection + socket.io-client): --token is the session link's token,
// --api the platform's address (validate and join are called from here, as
// the seed's page calls them), --url the Socket.IO server. --turn URL
// --turn-username U --turn-credential C give the page that TURN server as
// the seed's production setup does, and keep its media on the relay
// (iceTransportPolicy "relay").
//
// Options: --chromium PATH (default $CHROMIUM or /usr/bin/chromium),
// --log-level LEVEL (livekit-client log level, default $JS_PEER_LOG or "info"),
// --connect-timeout SECONDS (default 45), --auto-subscribe 0|1 (default 1).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { bundlePage } from './bundle.mjs';

// esbuild and playwright-core are loaded in start(), so a missing `npm ci` is
// reported as a protocol error line rather than a bare module-not-found crash.
let esbuild;
let chromium;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const T0 = Date.now();

// stdout carries protocol lines only: route any stray console output to stderr.
console.log = console.info = console.debug = console.error;

function emit(event, fields = {}) {
  try {
    // stdout is synchronous for pipes and files on Linux, so a line written
    // here is out before any later process.exit().
    process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
  } catch {
    /* reader went away */
  }
}
process.stdout.on('error', () => {}); // EPIPE when the reader is gone: nothing useful left to do

function log(...parts) {
  const t = ((Date.now() - T0) / 1000).toFixed(3);
  process.stderr.write(`js_peer +${t}s ${parts.join(' ')}\n`);
}

// Browser console lines can carry the raw token and a ~2 KB join request in URLs.
function redact(text) {
  return text
    .replace(/access_token=[^&'"\s]+/g, 'access_token=<redacted>')
    .replace(/join_request=([^&'"\s]{0,16})[^&'"\s]*/g, 'join_request=$1...');
}

function errMessage(e) {
  let msg = e instanceof Error ? e.message : String(e);
  // Playwright wraps page exceptions as "page.evaluate: Error: <msg>\n<call log>".
  // Keep the message, drop the page's stack and Playwright's call log.
  msg = msg.replace(/^[a-zA-Z.]+: (Error: )?/, '').split('\n=====')[0];
  msg = msg.split('\n').filter((l) => !/^\s+at /.test(l)).join('\n').trim();
  return msg || String(e);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000}s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    'log-level': { type: 'string', default: process.env.JS_PEER_LOG || 'info' },
    'connect-timeout': { type: 'string', default: '45' },
    'auto-subscribe': { type: 'string', default: '1' },
    page: { type: 'string', default: 'livekit' },
    'e2ee-key': { type: 'string' },
    api: { type: 'string' },
    // The seed page's TURN server (turn:host:port); media then goes only
    // through it (iceTransportPolicy "relay").
    turn: { type: 'string' },
    'turn-username': { type: 'string' },
    'turn-credential': { type: 'string' },
    // Headed on this X display (":N"), the window WxH with each remote
    // video filling it, as a person would watch (benchmarks compare the app
    // with this; headless Chromium never composites to a screen).
    headed: { type: 'string' },
    display: { type: 'string' },
  },
  strict: true,
});
const P2P = args.page === 'p2p';
if (!args.url || !args.token || !['livekit', 'p2p'].includes(args.page) || (P2P && !args.api)) {
  process.stderr.write('usage: node js_peer.mjs --url ws://HOST:PORT --token JWT\n' +
    '       node js_peer.mjs --page p2p --api http://APP --url http://SOCKET --token LINK\n');
  process.exit(64);
}

const COMMAND_TIMEOUT_MS = 30000;

const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream', // auto-grant camera/microphone
  '--use-fake-device-for-media-stream', // test-pattern camera, beeping microphone
  '--autoplay-policy=no-user-gesture-required', // remote <audio>/<video> play without a click
  // Real addresses in ICE candidates, not mDNS names (a peer outside the
  // browser cannot resolve those).
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

let browser;
let server;
let page;
let shuttingDown = false;
let roomConnected = false;
let disconnectedSent = false;
let connectedEmitted = false;
const pending = []; // page events that arrived before "connected" was emitted

function onPageEvent(ev) {
  if (!ev || typeof ev.event !== 'string') return;
  if (!connectedEmitted) {
    pending.push(ev);
    return;
  }
  if (ev.event === 'disconnected') {
    if (disconnectedSent) return;
    disconnectedSent = true;
  }
  const { event, ...fields } = ev;
  emit(event, fields);
}

const PAGE_HTML = '<!doctype html><html><head><meta charset="utf-8"><title>tandem js peer</title>' +
  '<link rel="icon" href="data:,"></head>' +
  '<body><script src="/peer.js"></script></body></html>';

// http://127.0.0.1 is a secure context, which getUserMedia and WebRTC need.
function serve(bundle) {
  return new Promise((resolve, reject) => {
    const srv = http.createServer((req, res) => {
      const url = (req.url || '/').split('?')[0];
      if (url === '/' || url === '/index.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(PAGE_HTML);
      } else if (url === '/e2ee-worker.mjs') {
        // LiveKit's own encryption worker, as its SDK ships it.
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
        res.end(fs.readFileSync(path.join(HERE, 'node_modules/livekit-client/dist/livekit-client.e2ee.worker.mjs')));
      } else if (url === '/peer.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
        res.end(bundle);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

async function closeBrowser() {
  const b = browser;
  browser = undefined;
  if (b) {
    try {
      await withTimeout(b.close(), 10000, 'browser close');
    } catch (e) {
      log('browser close failed:', errMessage(e));
    }
  }
  if (server) {
    server.closeAllConnections?.();
    server.close();
    server = undefined;
  }
}

// Leave the room (bounded), close the browser and exit.
async function shutdown(code, { leave = true } = {}) {
  if (shuttingDown) return;
  shuttingDown = true;
  if (leave && page && roomConnected) {
    try {
      await withTimeout(page.evaluate(() => window.peer.disconnect()), 10000, 'disconnect');
    } catch (e) {
      log('disconnect failed:', errMessage(e));
    }
    roomConnected = false;
    onPageEvent({ event: 'disconnected', reason: 'CLIENT_INITIATED' }); // deduplicated
  }
  await closeBrowser();
  log(`exit ${code}`);
  process.exit(code);
}

async function loadDeps() {
  try {
    esbuild = await import('esbuild');
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`${errMessage(e)} (run \`npm ci\` in ${HERE})`);
  }
}

async function start() {
  await loadDeps();
  const bundle = await bundlePage(esbuild, P2P ? 'p2p.ts' : 'peer.ts');
  server = await serve(bundle);
  const origin = `http://127.0.0.1:${server.address().port}`;
  log(`bundle ${bundle.length} bytes, page at ${origin}/`);

  const headed = /^(\d+)x(\d+)$/.exec(args.headed ?? '');
  if (args.headed && (!headed || !args.display)) throw new Error('--headed WxH needs --display :N');
  browser = await chromium.launch({
    executablePath: args.chromium,
    headless: false, // --headless=new is passed explicitly (Playwright's headless adds --mute-audio)
    args: headed
      ? [...CHROMIUM_ARGS.filter((a) => a !== '--headless=new'), `--window-size=${headed[1]},${headed[2]}`]
      : CHROMIUM_ARGS,
    env: headed ? { ...process.env, DISPLAY: args.display } : process.env,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: 30000,
  });
  browser.on('disconnected', () => {
    if (!shuttingDown) {
      log('browser went away');
      browser = undefined;
      if (connectedEmitted) onPageEvent({ event: 'disconnected', reason: 'BROWSER_CLOSED' });
      else emit('error', { where: 'connect', message: 'browser went away' });
      shutdown(connectedEmitted ? 1 : 2, { leave: false });
    }
  });
  log(`chromium ${browser.version()} up`);

  const context = await browser.newContext({
    permissions: ['camera', 'microphone'],
    ...(headed ? { viewport: { width: Number(headed[1]), height: Number(headed[2]) } } : {}),
  });
  page = await context.newPage();
  page.on('console', (m) => process.stderr.write(`[browser] ${m.type()}: ${redact(m.text())}\n`));
  page.on('pageerror', (e) => process.stderr.write(`[browser] pageerror: ${e.stack || e}\n`));
  page.on('crash', () => {
    log('page crashed');
    if (!shuttingDown) {
      onPageEvent({ event: 'disconnected', reason: 'PAGE_CRASHED' });
      shutdown(1, { leave: false });
    }
  });
  await page.exposeFunction('__peerEmit', onPageEvent);
  await page.goto(`${origin}/`, { waitUntil: 'load' });
  if (args.headed) {
    await page.addStyleTag({ content: 'body { margin: 0 } video { display: block; width: 100vw; height: 100vh; object-fit: contain; background: #000 } ' +
        // One's own camera, as the app's picture-in-picture: 240×135 in the corner, mirrored.
        'video.local { position: fixed; right: 16px; bottom: 16px; width: 240px; height: 135px; object-fit: cover; transform: scaleX(-1); border-radius: 8px }' });
  }
  await page.waitForFunction(() => typeof window.peer === 'object', null, { timeout: 10000 });
  log('page ready');
}

// ---- commands -------------------------------------------------------------

const commands = {
  async publish_camera(c) {
    const opts = {};
    if (c.width != null) opts.width = Number(c.width);
    if (c.height != null) opts.height = Number(c.height);
    if (c.fps != null) opts.fps = Number(c.fps);
    if (c.simulcast != null) opts.simulcast = Boolean(c.simulcast);
    if (c.preview != null) opts.preview = Boolean(c.preview);
    await page.evaluate((o) => window.peer.publishCamera(o), opts);
  },
  // A screen share of one colour (and a line of text), as a sharer's page makes.
  async publish_screen(c) {
    const color = Array.isArray(c.color) && c.color.length === 3 ? c.color.map(Number) : [30, 200, 90];
    const opts = { color, width: Number(c.width ?? 1280), height: Number(c.height ?? 720), fps: Number(c.fps ?? 5) };
    await page.evaluate((o) => window.peer.publishScreen(o), opts);
  },
  async publish_mic() {
    await page.evaluate(() => window.peer.publishMic());
  },
  // Extras shared with the Python peer; kind is "video" or "audio".
  async mute(c) {
    await page.evaluate(([k, m]) => window.peer.mute(k, m), [String(c.kind ?? ''), c.muted === undefined ? true : Boolean(c.muted)]);
  },
  async unpublish(c) {
    await page.evaluate((k) => window.peer.unpublish(k), String(c.kind ?? ''));
  },
  async set_metadata(c) {
    await page.evaluate((m) => window.peer.setMetadata(m), String(c.metadata ?? ''));
  },
  async set_name(c) {
    await page.evaluate((n) => window.peer.setName(n), String(c.name ?? ''));
  },
  async send_chat(c) {
    await page.evaluate((t) => window.peer.sendChat(t), String(c.text ?? ''));
  },
  // A made-up file (`size` bytes from `seed`) sent with sendFile on lk.chat;
  // emits file_sent {stream, sha256, size} before its ok.
  async send_file(c) {
    const sent = await page.evaluate(
      ([n, s, seed, m]) => window.peer.sendFile(n, s, seed, m),
      [String(c.name ?? 'file.bin'), Number(c.size ?? 0), Number(c.seed ?? 1), String(c.mime ?? 'application/octet-stream')],
    );
    emit('file_sent', { id: c.id ?? null, ...sent });
  },
  // A byte stream on lk.chat that announces `announce` bytes and carries `size`.
  async stream_file(c) {
    await page.evaluate(
      ([n, a, s]) => window.peer.streamFile(n, a, s),
      [String(c.name ?? 'file.bin'), Number(c.announce ?? 0), Number(c.size ?? 0)],
    );
  },
  async send_data(c) {
    await page.evaluate(
      ([p, t, r]) => window.peer.sendData(p, t, r),
      [String(c.payload ?? ''), String(c.topic ?? ''), c.reliable === undefined ? true : Boolean(c.reliable)],
    );
  },
  async stats(c) {
    if (P2P) {
      const s = await page.evaluate(() => window.peer.stats());
      const other = session.participantType === 'astrologer' ? 'user' : 'astrologer';
      emit('stats', { id: c.id ?? null, video: { [other]: s.video }, audio: { [other]: s.audio }, sent: s.sent, state: s.state });
      return;
    }
    const per = await page.evaluate(() => window.peer.stats());
    const video = {};
    const audio = {};
    for (const [identity, s] of Object.entries(per)) {
      if (s.hasVideo) {
        video[identity] = {
          frames: s.videoFramesDecoded,
          width: s.videoWidth,
          height: s.videoHeight,
          played: s.videoFramesPlayed,
          bytes: s.videoBytesReceived,
        };
      }
      if (s.hasAudio) {
        audio[identity] = {
          packets: s.audioPacketsReceived,
          energy: s.audioEnergy,
          level: s.audioLevel,
          bytes: s.audioBytesReceived,
        };
      }
    }
    const tracks = Object.fromEntries(Object.entries(per).map(([id, s]) => [id, s.tracks]));
    emit('stats', { id: c.id ?? null, video, audio, tracks });
  },
};

async function handleLine(raw) {
  if (!raw.trim()) return;
  let name = null;
  let cid = null;
  try {
    const c = JSON.parse(raw);
    if (!c || typeof c !== 'object' || Array.isArray(c)) throw new Error('command must be a JSON object');
    name = c.cmd ?? null;
    cid = c.id ?? null;
    if (name === 'disconnect') {
      await shutdownAfter({ event: 'ok', cmd: name, id: cid });
      return;
    }
    const handler = typeof name === 'string' && Object.hasOwn(commands, name) ? commands[name] : undefined;
    if (!handler) throw new Error(`unknown command ${JSON.stringify(name)}`);
    // Bounded, so one stuck call cannot wedge the command queue (and "disconnect").
    await withTimeout(handler(c), name === 'send_file' ? 5 * COMMAND_TIMEOUT_MS : COMMAND_TIMEOUT_MS, name);
    emit('ok', { cmd: name, id: cid });
  } catch (e) {
    log(`command ${name} failed:`, e instanceof Error ? e.stack : String(e));
    emit('error', { cmd: name, id: cid, message: errMessage(e) });
  }
}

// "disconnect": leave the room (emits "disconnected"), answer ok, then exit 0.
async function shutdownAfter(okLine) {
  if (page && roomConnected) {
    try {
      await withTimeout(page.evaluate(() => window.peer.disconnect()), 10000, 'disconnect');
    } catch (e) {
      log('disconnect failed:', errMessage(e));
    }
    roomConnected = false;
    onPageEvent({ event: 'disconnected', reason: 'CLIENT_INITIATED' });
  }
  const { event, ...fields } = okLine;
  emit(event, fields);
  await shutdown(0, { leave: false });
}

// Seed 004's page validates its link, then joins the session, before it
// opens the Socket.IO room.
let session;
async function joinSession() {
  const post = async (route, body) => {
    const res = await fetch(new URL(route, args.api), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${args.token}` },
      body: JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`${route}: HTTP ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const v = await post('/api/sessions/validate', { token: args.token });
  if (!v.valid) throw new Error(`the link is not valid: ${JSON.stringify(v)}`);
  await post('/api/sessions/join', { sessionId: v.sessionId, participantType: v.participantType });
  session = {
    roomId: v.roomId,
    participantType: v.participantType,
    sessionType: v.sessionType,
    participantId: v.participantId ?? v.participantType,
  };
  if (args.turn) {
    session.iceServers = [
      { urls: args.turn, username: args['turn-username'], credential: args['turn-credential'] },
    ];
    session.iceTransportPolicy = 'relay';
  }
  return session;
}

async function main() {
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(sig, () => {
      log(`got ${sig}`);
      shutdown(0);
    });
  }
  process.on('unhandledRejection', (e) => log('unhandled rejection:', e instanceof Error ? e.stack : String(e)));

  try {
    await start();
  } catch (e) {
    if (shuttingDown) return; // a signal arrived mid-startup; shutdown() exits
    log('startup failed:', e instanceof Error ? e.stack : String(e));
    emit('error', { where: 'connect', message: `startup failed: ${errMessage(e)}` });
    await shutdown(2, { leave: false });
    return;
  }

  let info;
  const timeoutMs = Number(args['connect-timeout']) * 1000;
  try {
    const options = P2P
      ? await joinSession()
      : { logLevel: args['log-level'], autoSubscribe: args['auto-subscribe'] !== '0', e2eeKey: args['e2ee-key'] };
    info = await withTimeout(
      page.evaluate(([u, t, o]) => window.peer.connect(u, t, o), [args.url, args.token, options]),
      timeoutMs,
      'connect',
    );
  } catch (e) {
    if (shuttingDown) return;
    log('connect failed:', errMessage(e));
    emit('error', { where: 'connect', message: errMessage(e) });
    await shutdown(2, { leave: false });
    return;
  }
  roomConnected = true;
  info.startup_ms = Date.now() - T0;
  log(`connected as ${info.identity}: room.connect ${info.connect_ms} ms, ${info.startup_ms} ms since start`);
  emit('connected', info);
  connectedEmitted = true;
  for (const ev of pending.splice(0)) onPageEvent(ev);

  // Commands run one at a time, in order; EOF waits for the queue, then exits 0.
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    queue = queue.then(() => (shuttingDown ? undefined : handleLine(line)));
  });
  rl.on('close', () => {
    queue = queue.then(() => shutdown(0));
  });
}

main();
