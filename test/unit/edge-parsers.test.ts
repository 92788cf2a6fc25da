/**
 * The edge's small parsers, in Node (they import nothing Workers-only): image sniffing, the
 * manifest meta bound, text-field rules, canonical decimals, bearer headers and the 405 table.
 * The Workers-runtime tests (test/worker/edge.test.ts) check the same through the routes.
 */
import { describe, expect, it } from 'vitest';
import { decimal, decimalOr } from '../../shared/api/params.ts';
import { textProblem } from '../../shared/api/text.ts';
import { MAX_META_BYTES, ManifestError, metaProblem, validateManifest } from '../../shared/weights/manifest.ts';
import { allowedMethods } from '../../worker/allowed-methods.ts';
import { sniffImage } from '../../worker/images.ts';
import { bearerToken, issueToken, verifyToken } from '../../worker/tokens.ts';

describe('sniffImage', () => {
  const riff = (chunk: string, data: number[]) => {
    const b = new Uint8Array(40);
    b.set([...'RIFF'].map((c) => c.charCodeAt(0)));
    b.set([...'WEBP'].map((c) => c.charCodeAt(0)), 8);
    b.set([...chunk].map((c) => c.charCodeAt(0)), 12);
    b.set(data, 20);
    return b;
  };

  it('reads WebP lossy (VP8), lossless (VP8L) and extended (VP8X) sizes', () => {
    // VP8: frame tag, start code, 14-bit width 300 and height 200 (scale bits set, ignored).
    expect(sniffImage(riff('VP8 ', [0, 0, 0, 0x9d, 0x01, 0x2a, 300 & 0xff, (300 >> 8) | 0x40, 200 & 0xff, 200 >> 8]))).toEqual({
      ok: true,
      image: { type: 'image/webp', width: 300, height: 200 },
    });
    const bits = (640 - 1) | ((480 - 1) << 14);
    expect(sniffImage(riff('VP8L', [0x2f, bits & 0xff, (bits >> 8) & 0xff, (bits >> 16) & 0xff, bits >>> 24]))).toMatchObject({ image: { width: 640, height: 480 } });
    expect(sniffImage(riff('VP8X', [0, 0, 0, 0, (5000 - 1) & 0xff, (5000 - 1) >> 8, 0, 0, 1, 0]))).toMatchObject({ image: { width: 5000, height: 257 } });
    expect(sniffImage(riff('ABCD', []))).toMatchObject({ ok: false, reason: expect.stringMatching(/ABCD/) });
  });

  it('skips JPEG metadata and fill bytes to the frame header, and never reads past the end', () => {
    const exif = [0xff, 0xe1, 0x00, 0x08, 1, 2, 3, 4, 5, 6];
    const sof2 = [0xff, 0xff, 0xc2, 0x00, 0x11, 0x08, 0x01, 0x00, 0x02, 0x00];
    expect(sniffImage(new Uint8Array([0xff, 0xd8, ...exif, ...sof2]))).toMatchObject({ image: { type: 'image/jpeg', width: 512, height: 256 } });
    // A segment length pointing past the end, a truncated frame header: refusals, not throws.
    expect(sniffImage(new Uint8Array([0xff, 0xd8, 0xff, 0xe1, 0xff, 0xf0]))).toMatchObject({ ok: false });
    expect(sniffImage(new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08]))).toMatchObject({ ok: false });
    for (let n = 0; n < 40; n++) expect(() => sniffImage(new Uint8Array(n).fill(0xff))).not.toThrow();
  });
});

describe('metaProblem', () => {
  it('stops at the first level too deep without recursing', () => {
    let deep: object = {};
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(metaProblem(deep)).toMatch(/nests deeper than 8/);
    let arrays: unknown = [];
    for (let i = 0; i < 100_000; i++) arrays = [arrays];
    expect(metaProblem({ x: arrays })).toMatch(/meta\.x(\[0\])+ nests deeper/);
  });

  it('bounds the size by the JSON it would write', () => {
    expect(metaProblem({ s: 'x'.repeat(MAX_META_BYTES - 20) })).toBeNull();
    expect(metaProblem({ s: 'x'.repeat(MAX_META_BYTES) })).toMatch(/larger than/);
    expect(metaProblem(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 1])))).toMatch(/larger than/);
    expect(metaProblem({ n: Number.NaN })).toMatch(/finite/);
  });
});

describe('validateManifest', () => {
  it('names a deeply nested field without stringifying it (was a stack overflow)', () => {
    const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000));
    for (const m of [{ format: deep }, { format: 'stripes-checkpoint', version: deep }, { format: 'stripes-checkpoint', version: 1, config: deep }]) {
      expect(() => validateManifest(m)).toThrow(ManifestError);
    }
    expect(() => validateManifest({ format: deep })).toThrow(/format must be "stripes-checkpoint", got a list of 1/);
    expect(() => validateManifest({ format: 'x'.repeat(1000) })).toThrow(/got "x+…$/);
  });
});

describe('textProblem', () => {
  it('refuses controls, bidi overrides and isolates, and invisible-only text; keeps lines in multi-line text', () => {
    expect(textProblem('Horse → zebra')).toBeNull();
    expect(textProblem('👩‍🎨 art')).toBeNull();
    expect(textProblem('a\nb')).toMatch(/U\+000A at position 1/);
    expect(textProblem('a\nb\tc', true)).toBeNull();
    expect(textProblem('a\u0000b', true)).toMatch(/U\+0000/);
    for (const c of ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) expect(textProblem(`x${c}y`)).toMatch(/bidirectional/);
    for (const s of ['\u200b', '\u200b\u200c\u200d\u2060', '\ufeff', '\u3164', '\u2800', '\u00ad', '\u200e']) expect(textProblem(s)).toMatch(/visible/);
    expect(textProblem('\u200bx')).toBeNull();
  });
});

describe('decimal parameters', () => {
  it('takes only canonical decimal', () => {
    const n = decimal(1, 1000);
    expect(n.parse('1')).toBe(1);
    expect(n.parse('1000')).toBe(1000);
    for (const bad of ['01', '1.0', '1e0', '0x1', '+1', ' 1', '1 ', '', '0', '1001', '١'])
      expect(n.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    const limit = decimalOr(1, 100, 20);
    expect(limit.parse(undefined)).toBe(20);
    expect(limit.parse('')).toBe(20);
    expect(limit.parse('7')).toBe(7);
    expect(limit.safeParse('07').success).toBe(false);
  });
});

describe('tokens', () => {
  const secret = 'unit-secret-0123456789abcdef0123456789';

  it('signs the expiry in, so moving it breaks the signature', async () => {
    const t = await issueToken(secret, 3600, Date.UTC(2026, 0, 1));
    expect(t.expiresAt).toBe('2026-01-01T01:00:00.000Z');
    expect(await verifyToken(secret, t.token)).toEqual({ id: t.id, expires: Date.UTC(2026, 0, 1) / 1000 + 3600 });
    const [head, exp, sig] = t.token.split('.');
    expect(await verifyToken(secret, `${head}.${Number(exp) + 86_400}.${sig}`)).toBeNull();
    expect(await verifyToken(`${secret}x`, t.token)).toBeNull();
  });

  it('parses Bearer headers without throwing on anything', async () => {
    expect(bearerToken(undefined)).toEqual({ problem: 'missing' });
    expect(bearerToken('Bearer  abc ')).toEqual({ token: 'abc' });
    expect(bearerToken('Bearer a b')).toEqual({ problem: 'malformed' });
    expect(bearerToken('Bearer é')).toEqual({ problem: 'malformed' });
    for (const g of ['stp_AAAAAAAAAAAAAAAA.A', 'stp_AAAAAAAAAAAAAAAA.====', 'stp_' + 'A'.repeat(16) + '.' + '!'.repeat(43), 'stp_\u0000', 'x'.repeat(100_000)])
      await expect(verifyToken(secret, g)).resolves.toBeNull();
  });
});

describe('allowedMethods', () => {
  it('lists the methods of every route matching a path, with HEAD for GET and OPTIONS', () => {
    const allowed = allowedMethods([
      { method: 'ALL', path: '/api/*' },
      { method: 'GET', path: '/api/pairs/:slug' },
      { method: 'PATCH', path: '/api/pairs/:slug' },
      { method: 'POST', path: '/api/tokens' },
    ]);
    expect(allowed('/api/pairs/x')).toEqual(['GET', 'HEAD', 'PATCH', 'OPTIONS']);
    expect(allowed('/api/tokens')).toEqual(['POST', 'OPTIONS']);
    expect(allowed('/api/pairs/x/y')).toEqual([]);
    expect(allowed('/api/nothing')).toEqual([]);
  });
});
