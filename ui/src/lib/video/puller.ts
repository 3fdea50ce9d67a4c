// Pulls one element's frames: two requests in flight ("the next frame after
// N" each), the newest frame drawn on the next animation frame, older ones
// skipped. Stops when its signal aborts.
import type { Ipc, Frame } from '../ipc/ipc';

export interface PullStats {
  received: number;
  drawn: number;
  /// When the first frame was drawn (ms since the Unix epoch).
  firstDrawnAt: number | null;
  /// Added latency of recent frames: received from LiveKit → drawn, ms.
  recentAddedMs: number[];
}

/// Recent latency samples kept for the percentiles.
const SAMPLES = 120;

/// The p-th percentile (0–100) of `values`, or null when empty.
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[i]!;
}

export interface PullOptions {
  ipc: Ipc;
  view: string;
  source: string;
  /// The element's size in device pixels, read before each request.
  size: () => [number, number];
  draw: (f: Frame) => void;
  /// Video started or stopped arriving.
  onPresence: (hasVideo: boolean) => void;
  signal: AbortSignal;
}

const IN_FLIGHT = 2;

export function pull(o: PullOptions): PullStats {
  const stats: PullStats = { received: 0, drawn: 0, firstDrawnAt: null, recentAddedMs: [] };
  let newest: Frame | null = null;
  let lastSeq = 0;
  let scheduled = false;
  let present: boolean | null = null;

  const presence = (p: boolean) => {
    if (present !== p) {
      present = p;
      o.onPresence(p);
    }
  };
  const paint = () => {
    scheduled = false;
    if (!newest || o.signal.aborted) return;
    const f = newest;
    newest = null;
    o.draw(f);
    const now = Date.now();
    stats.drawn += 1;
    stats.firstDrawnAt ??= now;
    if (f.receivedUs > 0) {
      stats.recentAddedMs.push(now - f.receivedUs / 1000);
      if (stats.recentAddedMs.length > SAMPLES) stats.recentAddedMs.shift();
    }
  };
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      o.signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
    });

  const loop = async () => {
    while (!o.signal.aborted) {
      const [w, h] = o.size();
      if (w < 2 || h < 2) {
        await sleep(100);
        continue;
      }
      try {
        const r = await o.ipc.frame(o.view, o.source, lastSeq, w, h, o.signal);
        if (r === 'no-video') {
          presence(false);
          await sleep(250);
        } else if (r !== 'none-yet' && r.seq > lastSeq) {
          lastSeq = r.seq;
          stats.received += 1;
          newest = r;
          presence(true);
          if (!scheduled) {
            scheduled = true;
            requestAnimationFrame(paint);
          }
        }
      } catch {
        if (o.signal.aborted) return;
        await sleep(500);
      }
    }
  };
  for (let i = 0; i < IN_FLIGHT; i++) void loop();
  return stats;
}
