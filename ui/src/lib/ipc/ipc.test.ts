import { describe, expect, it } from 'vitest';
import { IpcError, asAppError, decodeFrame } from './ipc';
import { synthFrame } from './fakeVideo';
import { advice } from '../state/errors';

describe('frames', () => {
  it('decodes the header and planes the app sends', () => {
    const w = 4;
    const h = 2;
    const buf = new ArrayBuffer(32 + (w * h * 3) / 2);
    const v = new DataView(buf);
    v.setUint32(0, 7, true);
    v.setUint32(4, w, true);
    v.setUint32(8, h, true);
    v.setFloat64(16, 123456, true);
    v.setFloat64(24, 654321, true);
    new Uint8Array(buf, 32).fill(9);
    const f = decodeFrame(buf);
    expect([f.seq, f.width, f.height, f.capturedUs, f.receivedUs, f.data.length]).toEqual([7, 4, 2, 123456, 654321, 12]);
  });

  it('refuses short or inconsistent frames', () => {
    expect(() => decodeFrame(new ArrayBuffer(10))).toThrow();
    const buf = new ArrayBuffer(32 + 4);
    new DataView(buf).setUint32(4, 640, true);
    new DataView(buf).setUint32(8, 360, true);
    expect(() => decodeFrame(buf)).toThrow();
  });

  it('fake frames fit the asked size at 16:9', () => {
    const f = synthFrame(1, 320, 320, [100, 128, 128]);
    expect([f.width, f.height]).toEqual([320, 180]);
    expect(f.data.length).toBe((320 * 180 * 3) / 2);
  });
});

describe('errors', () => {
  it('keep their code and get advice for every class', () => {
    const e = new IpcError({ code: 'clock_skew', message: 'clock is 600 s ahead' });
    expect(asAppError(e)).toEqual({ code: 'clock_skew', message: 'clock is 600 s ahead' });
    expect(asAppError(new Error('boom')).code).toBe('internal');
    expect(advice({ code: 'wrong_secret', message: '' }).retry).toBe(false);
    expect(advice({ code: 'sign_in_required', message: '' }).signIn).toBe(true);
  });
});

describe('latency percentiles', async () => {
  const { percentile } = await import('../video/puller');
  it('pick from the sorted samples', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([30, 10, 20], 50)).toBe(20);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], 95)).toBe(100);
  });
});
