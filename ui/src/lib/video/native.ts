// The native video path: the app draws video under a transparent page, so
// the page only says where its video elements are. Whatever the page
// paints behind a video element would cover it; those elements' colours
// are handed to the app (drawn there) and made transparent here.
import type { Ipc, VideoLayout, VideoPath, ViewPlacement, ViewStats } from '../ipc/ipc';

let path: Promise<VideoPath> | null = null;

/// How this window's video is drawn (asked once). On the native path the
/// page's own background becomes transparent from then on.
export function videoPath(ipc: Ipc): Promise<VideoPath> {
  path ??= ipc
    .videoPath()
    .catch((e: unknown) => ({ native: false, reason: `drawn by the page: ${String(e)}` }))
    .then(async (p) => {
      if (!p.native) return p;
      // The app paints the page's background first, then the page lets it
      // show through.
      try {
        await ipc.videoLayout({ background: pageColour(), views: [] });
      } catch (e) {
        return { native: false, reason: `drawn by the page: ${String(e)}` };
      }
      document.documentElement.classList.add('native-video');
      return p;
    });
  return path;
}

export interface NativeView {
  el: HTMLElement;
  source: string;
  mirrored: boolean;
  fit: 'contain' | 'cover';
  onStats: (s: ViewStats | null) => void;
}

const views = new Map<string, NativeView>();
/// Colours of the elements made transparent, as they were (-1: none).
const behind = new WeakMap<Element, number>();
const fillIds = new WeakMap<Element, string>();
/// The elements made transparent now: those no longer behind any video get
/// their own colour back.
let marked = new Set<Element>();
let nextFill = 0;
let ipcInUse: Ipc | null = null;
let last = '';
let raf = 0;
let statsTimer: ReturnType<typeof setInterval> | null = null;

/// Shows `view` natively until the returned function is called.
export function show(ipc: Ipc, id: string, view: NativeView): () => void {
  ipcInUse = ipc;
  views.set(id, view);
  start();
  return () => {
    views.delete(id);
    view.onStats(null);
    // One last layout without it, so nothing stays on screen.
    send();
  };
}

/// 0xRRGGBB of a CSS colour, or null when it is (nearly) transparent.
export function colour(css: string): number | null {
  const m = css.match(/rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:[,\s/]+([\d.]+%?))?\s*\)/);
  if (!m) return null;
  const alpha = m[4] === undefined ? 1 : m[4].endsWith('%') ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
  if (!(alpha >= 0.5)) return null;
  const c = (i: number) => Math.max(0, Math.min(255, Math.round(parseFloat(m[i] ?? '0'))));
  return (c(1) << 16) | (c(2) << 8) | c(3);
}

let pageBackground: number | null = null;

/// The page's own background (the theme's `--bg`), read once.
function pageColour(): number {
  if (pageBackground !== null) return pageBackground;
  const probe = document.createElement('div');
  probe.style.color = 'var(--bg)';
  probe.style.display = 'none';
  document.body.append(probe);
  const c = colour(getComputedStyle(probe).color);
  probe.remove();
  pageBackground = c ?? 0xffffff;
  return pageBackground;
}

/// The colour `el` paints behind its children, made transparent on first
/// sight (remembered).
function paintedBehind(el: Element): number | null {
  let c = behind.get(el);
  if (c === undefined) {
    c = colour(getComputedStyle(el).backgroundColor) ?? -1;
    behind.set(el, c);
  }
  if (c < 0) return null;
  // Set once: a changed attribute makes WebKit work out styles again.
  if (!el.hasAttribute('data-video-behind')) el.setAttribute('data-video-behind', '');
  nowMarked.add(el);
  return c;
}

function px(v: string): number {
  const n = parseFloat(v);
  return Number.isFinite(n) ? n : 0;
}

function sameBox(a: DOMRect, b: DOMRect): boolean {
  return Math.abs(a.x - b.x) < 1 && Math.abs(a.y - b.y) < 1 && Math.abs(a.width - b.width) < 1 && Math.abs(a.height - b.height) < 1;
}

/// The views and the coloured elements behind them, in painting order
/// (document order: ancestors and earlier elements first).
let nowMarked = new Set<Element>();

export function layout(): VideoLayout {
  nowMarked = new Set();
  const layers: { el: Element; p: ViewPlacement }[] = [];
  const seen = new Set<Element>();
  for (const [id, v] of views) {
    if (!v.el.isConnected) continue;
    const r = v.el.getBoundingClientRect();
    let radius = px(getComputedStyle(v.el).borderTopLeftRadius);
    for (let a = v.el.parentElement; a && a !== document.body; a = a.parentElement) {
      const ar = a.getBoundingClientRect();
      const style = getComputedStyle(a);
      if (sameBox(ar, r)) radius = Math.max(radius, px(style.borderTopLeftRadius));
      if (seen.has(a)) continue;
      seen.add(a);
      const c = paintedBehind(a);
      if (c === null) continue;
      let fid = fillIds.get(a);
      if (!fid) fillIds.set(a, (fid = `fill${++nextFill}`));
      layers.push({
        el: a,
        p: {
          id: fid, source: null, x: ar.x, y: ar.y, width: ar.width, height: ar.height, z: 0,
          mirrored: false, radius: px(style.borderTopLeftRadius), fit: 'contain', background: c,
        },
      });
    }
    layers.push({
      el: v.el,
      p: {
        id, source: v.source, x: r.x, y: r.y, width: r.width, height: r.height, z: 0,
        mirrored: v.mirrored, radius, fit: v.fit, background: paintedBehind(v.el) ?? 0,
      },
    });
  }
  layers.sort((a, b) => (a.el === b.el ? 0 : a.el.compareDocumentPosition(b.el) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
  layers.forEach((l, i) => (l.p.z = i));
  for (const el of marked) if (!nowMarked.has(el)) el.removeAttribute('data-video-behind');
  marked = nowMarked;
  return { background: pageColour(), views: layers.map((l) => l.p) };
}

function send() {
  if (!ipcInUse) return;
  const now = layout();
  const text = JSON.stringify(now);
  if (text === last) return;
  last = text;
  void ipcInUse.videoLayout(now).catch((e: unknown) => console.warn('video layout refused', e));
}

/// While views are shown: their places are checked on every animation
/// frame (sent only when something moved), their stats four times a second.
function start() {
  if (!raf) {
    const tick = () => {
      send();
      raf = views.size > 0 ? requestAnimationFrame(tick) : 0;
    };
    raf = requestAnimationFrame(tick);
  }
  statsTimer ??= setInterval(async () => {
    if (views.size === 0 || !ipcInUse) {
      if (statsTimer) clearInterval(statsTimer);
      statsTimer = null;
      return;
    }
    const stats = await ipcInUse.videoStats().catch(() => [] as ViewStats[]);
    for (const [id, v] of views) v.onStats(stats.find((s) => s.id === id) ?? null);
  }, 250);
}
