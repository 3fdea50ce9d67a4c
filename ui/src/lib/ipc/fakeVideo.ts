// The fake call's pictures: flat colours (as I420) with a moving bar, so
// browser tests can tell whose picture is drawn and that it moves.

export const TEAL = [111, 150, 84] as const; // ≈ rgb(0,128,128): our camera
export const ORANGE = [136, 56, 186] as const; // ≈ rgb(230,120,30): the other person
export const PAPER = [219, 128, 128] as const; // ≈ rgb(235,235,235): a shared page

/// A 16:9 frame fitted into width×height: a flat colour with a moving bar.
export function synthFrame(seq: number, maxW: number, maxH: number, yuv: readonly [number, number, number]) {
  let w = maxW;
  let h = Math.round((w * 9) / 16);
  if (h > maxH) {
    h = maxH;
    w = Math.round((h * 16) / 9);
  }
  w = Math.max(2, w & ~1);
  h = Math.max(2, h & ~1);
  const data = new Uint8Array((w * h * 3) / 2);
  data.fill(yuv[0], 0, w * h);
  data.fill(yuv[1], w * h, w * h + (w * h) / 4);
  data.fill(yuv[2], w * h + (w * h) / 4);
  const bar = Math.floor(((seq * 4) % w) / 2) * 2;
  for (let y = 0; y < h; y++) data.fill(235, y * w + bar, y * w + Math.min(w, bar + 8));
  const now = Date.now() * 1000;
  return { seq, width: w, height: h, capturedUs: now, receivedUs: now, data };
}
