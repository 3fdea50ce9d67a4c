#!/usr/bin/env node
// A seed-004 signalling participant on the official Socket.IO JS client
// (socket.io-client), for testing Tandem's Socket.IO room server and client
// against code nobody here wrote.
//
//   node tests/peers/js/socketio_peer.mjs --url http://HOST:PORT [--token unused]
//
// Same line protocol as the other peers: JSON-line commands on stdin
// ({"cmd": ..., "id": optional}), JSON-line events on stdout. Commands:
//   {"cmd":"emit","name":EVENT,"data":ANY}  emits EVENT with DATA
//   {"cmd":"disconnect"}                    closes the socket and exits 0
// Events: {"event":"connected","sid"}, {"event":"error","where":"connect",
// "message"}, {"event":"socket","name","data"} for every event received,
// {"event":"socket_disconnected","reason"}, and "ok"/"error" per command.
import readline from 'node:readline';
import { parseArgs } from 'node:util';

console.log = console.info = console.debug = console.error;

function emit(event, fields = {}) {
  try {
    process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
  } catch {
    /* reader went away */
  }
}
process.stdout.on('error', () => {});

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    transports: { type: 'string' },
  },
  strict: false,
});
if (!values.url) {
  emit('error', { where: 'connect', message: '--url is required' });
  process.exit(2);
}

let io;
try {
  ({ io } = await import('socket.io-client'));
} catch (e) {
  emit('error', { where: 'connect', message: `socket.io-client is not installed (npm ci in tests/peers/js): ${e}` });
  process.exit(2);
}

// As the seed's web page does: io(NEXT_PUBLIC_SOCKET_URL), default transports
// (long polling, upgraded to WebSocket) unless told otherwise.
const options = { reconnection: false, timeout: 10000 };
if (values.transports) options.transports = values.transports.split(',');
const socket = io(values.url, options);
let connectedOnce = false;

socket.on('connect', () => {
  if (!connectedOnce) emit('connected', { sid: socket.id });
  connectedOnce = true;
});
socket.on('connect_error', (e) => {
  emit('error', { where: 'connect', message: e?.message ?? String(e) });
  if (!connectedOnce) process.exit(2);
});
socket.on('disconnect', (reason) => emit('socket_disconnected', { reason }));
socket.onAny((name, data) => emit('socket', { name, data: data ?? null }));

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let c;
  try {
    c = JSON.parse(line);
  } catch {
    emit('error', { cmd: null, message: 'not JSON' });
    return;
  }
  const id = c.id ?? null;
  if (c.cmd === 'emit') {
    socket.emit(c.name, c.data);
    emit('ok', { cmd: c.cmd, id });
  } else if (c.cmd === 'disconnect') {
    socket.close();
    emit('ok', { cmd: c.cmd, id });
    process.exit(0);
  } else {
    emit('error', { cmd: c.cmd, id, message: `unknown command ${c.cmd}` });
  }
});
lines.on('close', () => {
  socket.close();
  process.exit(0);
});
