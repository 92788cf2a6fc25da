/**
 * The web app's pure helpers: the STRV validation-set encoder (the format the quality gate
 * reads), the file sniffing behind "this is not a safetensors file (it looks like a JPEG)", and
 * messages as sentences.
 */
import { describe, expect, it } from 'vitest';
import { sentence } from '../../web/src/lib/errors.ts';
import { sniffKind } from '../../web/src/lib/sniff.ts';

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
