/**
 * The web app's pure helpers: the STRV validation-set encoder (the format the quality gate
 * reads), the file sniffing behind "this is not a safetensors file (it looks like a JPEG)", and
 * messages as sentences.
 */
import { describe, expect, it } from 'vitest';
import { sentence } from '../../web/src/lib/errors.ts';
import { sniffKind } from '../../web/src/lib/sniff.ts';
import { decodeValidationSet, encodeValidationSet, prepareValidationImage } from '../../web/src/lib/validation-upload.ts';

describe('validation sets', () => {
  it('writes STRV v1 with uint16 count, height, width, then RGB bytes, and reads it back', () => {
    const imgs = [new Uint8Array(4 * 2 * 3).fill(7), new Uint8Array(4 * 2 * 3).fill(9)];
    const bytes = encodeValidationSet(imgs, 4, 2);
    expect([...bytes.subarray(0, 12)]).toEqual([0x53, 0x54, 0x52, 0x56, 1, 0, 2, 0, 4, 0, 2, 0]);
    expect(bytes.length).toBe(12 + 2 * 24);
    const back = decodeValidationSet(bytes);
    expect([back.count, back.height, back.width]).toEqual([2, 4, 2]);
    expect(back.images).toEqual(imgs);
    expect(() => encodeValidationSet([new Uint8Array(5)], 4, 2)).toThrow(/expected 24/);
  });

  it('takes the centred square of an RGBA image and keeps RGB', () => {
    // 4×2 RGBA: the centre square is columns 1..2, which are red; the sides are blue.
    const data = new Uint8ClampedArray(4 * 2 * 4);
    for (let y = 0; y < 2; y++)
      for (let x = 0; x < 4; x++) data.set(x === 1 || x === 2 ? [255, 0, 0, 128] : [0, 0, 255, 255], (y * 4 + x) * 4);
    expect([...prepareValidationImage({ width: 4, height: 2, data }, 2)]).toEqual(Array.from({ length: 4 }, () => [255, 0, 0]).flat());
    expect(prepareValidationImage({ width: 100, height: 80, data: new Uint8Array(100 * 80 * 3) }).length).toBe(64 * 64 * 3);
  });
});

describe('sniffKind', () => {
  const head = (...b: number[]) => Uint8Array.from([...b, ...new Array(16).fill(0)]).subarray(0, 16);
  const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
  it('names pictures, archives and pickles, and nothing else', () => {
    expect(sniffKind(head(0xff, 0xd8, 0xff, 0xe0))).toBe('a JPEG');
    expect(sniffKind(head(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a))).toBe('a PNG');
    expect(sniffKind(head(...ascii('GIF89a')))).toBe('a GIF');
    expect(sniffKind(head(...ascii('RIFF'), 1, 2, 3, 4, ...ascii('WEBP')))).toBe('a WebP');
    expect(sniffKind(head(0x50, 0x4b, 0x03, 0x04))).toMatch(/zip archive.*\.pth/);
    expect(sniffKind(head(0x80, 0x02, 0x8a))).toMatch(/pickled PyTorch/);
    // A safetensors file starts with its header length (little-endian u64) and then '{'.
    expect(sniffKind(head(0x40, 0x01, 0, 0, 0, 0, 0, 0, ...ascii('{"')))).toBeNull();
  });
});

describe('sentence', () => {
  it('capitalises, says address for slug, and leaves a leading file name alone', () => {
    expect(sentence('slug must be 3-64 characters')).toBe('Address must be 3-64 characters');
    expect(sentence('a pair with this slug exists')).toBe('A pair with this address exists');
    expect(sentence('chelsea.jpg: this is not a safetensors file')).toBe('chelsea.jpg: this is not a safetensors file');
  });
});
