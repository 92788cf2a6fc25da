/** The validation-set file format (shared/gate/validation-set.ts): round trip, every bad input, and the image helper. */
import { describe, expect, it } from 'vitest';
import {
  decodeValidationSet,
  encodeValidationSet,
  prepareValidationImage,
  readValidationHeader,
  VALIDATION_HEADER_BYTES,
  VALIDATION_MAX_IMAGES,
  VALIDATION_MAX_SIDE,
  VALIDATION_MIN_IMAGES,
  VALIDATION_MIN_SIDE,
  type RawImage,
} from '../../shared/gate/validation-set.ts';
import { Rng } from '../../shared/train/rng.ts';

function randomImages(n: number, h: number, w: number, channels: 3 | 4, seed = 1): RawImage[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({
    data: Uint8Array.from({ length: h * w * channels }, () => rng.int(256)),
    width: w,
    height: h,
    channels,
  }));
}

describe('validation set format', () => {
  it('round-trips RGB: header fields, then every byte as (v/255 − 0.5)/0.5', () => {
    const imgs = randomImages(9, 32, 48, 3);
    const bytes = encodeValidationSet(imgs);
    expect(bytes.length).toBe(VALIDATION_HEADER_BYTES + 9 * 32 * 48 * 3);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('STRV');
    expect([...bytes.subarray(4, 12)]).toEqual([1, 0, 9, 0, 32, 0, 48, 0]);
    const set = decodeValidationSet(bytes);
    expect({ count: set.count, height: set.height, width: set.width }).toEqual({ count: 9, height: 32, width: 48 });
    expect(set.images).toHaveLength(9);
    for (let i = 0; i < 9; i++) {
      expect(set.images[i].length).toBe(32 * 48 * 3);
      for (const j of [0, 1, 2, 777, 32 * 48 * 3 - 1]) expect(set.images[i][j]).toBeCloseTo(imgs[i].data[j] / 127.5 - 1, 6);
    }
    expect(set.images[0].every((v) => v >= -1 && v <= 1)).toBe(true);
  });

  it('drops alpha from RGBA input, and reads a set from a subarray of a larger buffer', () => {
    const rgba = randomImages(8, 32, 32, 4);
    const rgb = rgba.map((im) => ({ ...im, channels: 3 as const, data: im.data.filter((_, i) => i % 4 !== 3) }));
    const bytes = encodeValidationSet(rgba);
    expect(bytes).toEqual(encodeValidationSet(rgb));
    const padded = new Uint8Array(bytes.length + 5);
    padded.set(bytes, 3);
    expect(decodeValidationSet(padded.subarray(3, 3 + bytes.length)).images[7]).toEqual(decodeValidationSet(bytes).images[7]);
  });

  it('exports its limits', () => {
    expect([VALIDATION_MIN_IMAGES, VALIDATION_MAX_IMAGES, VALIDATION_MIN_SIDE, VALIDATION_MAX_SIDE]).toEqual([8, 64, 32, 256]);
  });

  it('rejects every bad file with a message naming what is wrong', () => {
    const good = encodeValidationSet(randomImages(8, 32, 32, 3));
    const edit = (f: (b: Uint8Array, v: DataView) => void) => {
      const b = good.slice();
      f(b, new DataView(b.buffer));
      return b;
    };
    expect(() => decodeValidationSet(good.subarray(0, 7))).toThrow(/7 bytes is shorter than the 12-byte header/);
    expect(() => decodeValidationSet(edit((b) => (b[0] = 0x89)))).toThrow(/bad magic .*expected "STRV"/);
    expect(() => decodeValidationSet(edit((_, v) => v.setUint16(4, 2, true)))).toThrow(/unknown format version 2/);
    expect(() => decodeValidationSet(edit((_, v) => v.setUint16(6, 7, true)))).toThrow(/count must be 8\.\.64 images, got 7/);
    expect(() => decodeValidationSet(edit((_, v) => v.setUint16(6, 65, true)))).toThrow(/count must be 8\.\.64 images, got 65/);
    expect(() => decodeValidationSet(edit((_, v) => v.setUint16(8, 34, true)))).toThrow(/multiples of 4 in 32\.\.256, got 34×32/);
    expect(() => decodeValidationSet(edit((_, v) => v.setUint16(10, 28, true)))).toThrow(/got 32×28/);
    expect(() => decodeValidationSet(edit((_, v) => v.setUint16(10, 260, true)))).toThrow(/got 32×260/);
    expect(() => decodeValidationSet(good.subarray(0, good.length - 1))).toThrow(/length mismatch: 8 images of 32×32 RGB need 24588 bytes, got 24587/);
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expect(() => decodeValidationSet(longer)).toThrow(/length mismatch.*got 24589/);
    expect(readValidationHeader(good)).toEqual({ count: 8, height: 32, width: 32 });
  });

  it('refuses to encode what it could not decode', () => {
    expect(() => encodeValidationSet([])).toThrow(/count must be 8\.\.64 images, got 0/);
    expect(() => encodeValidationSet(randomImages(7, 32, 32, 3))).toThrow(/got 7/);
    expect(() => encodeValidationSet(randomImages(65, 32, 32, 3))).toThrow(/got 65/);
    expect(() => encodeValidationSet(randomImages(8, 30, 32, 3))).toThrow(/multiples of 4.*got 30×32/);
    expect(() => encodeValidationSet(randomImages(8, 28, 28, 3))).toThrow(/got 28×28/);
    const mixed = [...randomImages(7, 32, 32, 3), ...randomImages(1, 36, 32, 3)];
    expect(() => encodeValidationSet(mixed)).toThrow(/mixed sizes: image 7 is 36×32, image 0 is 32×32/);
    const short = randomImages(8, 32, 32, 3);
    short[2] = { ...short[2], data: short[2].data.subarray(1) };
    expect(() => encodeValidationSet(short)).toThrow(/image 2 has 3071 bytes, expected 3072 for 32×32×3/);
    const gray = randomImages(8, 32, 32, 3).map((im) => ({ ...im, channels: 1 as unknown as 3 }));
    expect(() => encodeValidationSet(gray)).toThrow(/image 0 has 1 channels; only RGB \(3\) or RGBA \(4\)/);
  });
});

describe('prepareValidationImage', () => {
  it('centre-crops a landscape image to a square and area-averages it down (exact for an integer factor)', () => {
    // 100×64 RGBA: the centred 64×64 square starts at column 18. Left and right margins are red
    // and must vanish; inside, 2×2 blocks of known bytes average exactly.
    const w = 100, h = 64;
    const rgba = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const p = (y * w + x) * 4;
        const inside = x >= 18 && x < 82;
        rgba[p] = inside ? ((x - 18) % 2) * 100 : 255; // columns alternate 0, 100
        rgba[p + 1] = inside ? (y % 2) * 50 + 10 : 0; // rows alternate 10, 60
        rgba[p + 2] = inside ? x - 18 : 0; // a ramp
        rgba[p + 3] = 7; // alpha, ignored
      }
    const out = prepareValidationImage(rgba, w, h, 32);
    expect(out).toMatchObject({ width: 32, height: 32, channels: 3 });
    expect(out.data.length).toBe(32 * 32 * 3);
    for (let oy = 0; oy < 32; oy++)
      for (let ox = 0; ox < 32; ox++) {
        const p = (oy * 32 + ox) * 3;
        expect([out.data[p], out.data[p + 1], out.data[p + 2]]).toEqual([50, 35, Math.round(2 * ox + 0.5)]);
      }
  });

  it('area-averages a non-integer factor: a constant stays constant, the mean is kept, portrait crops the middle rows', () => {
    const w = 50, h = 90; // square is rows 20..69
    const rgba = new Uint8Array(w * h * 4).fill(0);
    for (let y = 20; y < 70; y++)
      for (let x = 0; x < w; x++) rgba.set([200, 40, x < 25 ? 0 : 255, 255], (y * w + x) * 4);
    const out = prepareValidationImage(rgba, w, h, 32);
    let blue = 0;
    for (let p = 0; p < 32 * 32; p++) {
      expect(out.data[p * 3]).toBe(200);
      expect(out.data[p * 3 + 1]).toBe(40);
      blue += out.data[p * 3 + 2];
    }
    expect(blue / (32 * 32)).toBeCloseTo(127.5, 0);
    // The column straddling the 0/255 edge (source 25 sits at 16.0 of 32) is mixed; the outer ones are pure.
    expect(out.data[2]).toBe(0);
    expect(out.data[31 * 3 + 2]).toBe(255);
  });

  it('upsamples a small image by pixel replication and rejects bad arguments', () => {
    const rgba = Uint8Array.from({ length: 16 * 16 * 4 }, (_, i) => i % 251);
    const up = prepareValidationImage(rgba, 16, 16, 32);
    expect([...up.data.subarray(0, 6)]).toEqual([0, 1, 2, 0, 1, 2]);
    expect(() => prepareValidationImage(rgba, 16, 16, 30)).toThrow(/multiples of 4.*30×30/);
    expect(() => prepareValidationImage(rgba, 16, 15, 32)).toThrow(/expected 960 RGBA bytes for 16×15/);
    expect(() => prepareValidationImage(rgba, 0, 16, 32)).toThrow(/positive integers/);
  });

  it('builds a set that encodes and decodes', () => {
    const rng = new Rng(3);
    const imgs = Array.from({ length: 8 }, () => prepareValidationImage(Uint8Array.from({ length: 70 * 40 * 4 }, () => rng.int(256)), 70, 40, 32));
    expect(decodeValidationSet(encodeValidationSet(imgs)).count).toBe(8);
  });
});
