/**
 * What an uploaded image really is, from its first bytes: PNG, JPEG or WebP, and its width and
 * height from the header. Reads at most a bounded prefix (JPEG's frame header may follow
 * metadata segments; the scan stops after MAX_JPEG_SCAN bytes). Decodes no pixels.
 */
export type ImageType = 'image/png' | 'image/jpeg' | 'image/webp';

export interface SniffedImage {
  type: ImageType;
  width: number;
  height: number;
}

/** Why the bytes are not an image we take, or the image. */
export type Sniff = { ok: true; image: SniffedImage } | { ok: false; reason: string };

const MAX_JPEG_SCAN = 256 * 1024;

const fail = (reason: string): Sniff => ({ ok: false, reason });
const found = (type: ImageType, width: number, height: number): Sniff =>
  width > 0 && height > 0 ? { ok: true, image: { type, width, height } } : fail(`its ${type} header gives a size of ${width}×${height}`);

function startsWith(b: Uint8Array, sig: number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));

function png(b: Uint8Array): Sniff {
  // Signature, then the IHDR chunk first: length 13, "IHDR", width, height (big-endian).
  if (b.length < 24 || ascii(b, 12, 4) !== 'IHDR') return fail('it has a PNG signature but no IHDR header');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return found('image/png', v.getUint32(16), v.getUint32(20));
}

function jpeg(b: Uint8Array): Sniff {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let i = 2;
  const end = Math.min(b.length, MAX_JPEG_SCAN);
  while (i + 4 <= end) {
    if (b[i] !== 0xff) return fail(`its JPEG markers are broken at byte ${i}`);
    const marker = b[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    // Standalone markers carry no length.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break; // end of image, or scan data before any frame header
    const length = v.getUint16(i + 2);
    if (length < 2) return fail(`its JPEG segment at byte ${i} has length ${length}`);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > b.length) break;
      return found('image/jpeg', v.getUint16(i + 7), v.getUint16(i + 5));
    }
    i += 2 + length;
  }
  return fail('it starts like a JPEG but no frame header (its size) was found');
}

function webp(b: Uint8Array): Sniff {
  // RIFF <size> WEBP, then the first chunk.
  if (b.length < 30) return fail('it is a WebP too short to hold a header');
  const chunk = ascii(b, 12, 4);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (chunk === 'VP8 ') {
    // Lossy: 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height.
    if (!startsWith(b, [0x9d, 0x01, 0x2a], 23)) return fail('its VP8 frame has no start code');
    return found('image/webp', v.getUint16(26, true) & 0x3fff, v.getUint16(28, true) & 0x3fff);
  }
  if (chunk === 'VP8L') {
    // Lossless: signature 0x2f, then 14 bits width-1 and 14 bits height-1, little-endian.
    if (b[20] !== 0x2f) return fail('its VP8L stream has no signature');
    const bits = v.getUint32(21, true);
    return found('image/webp', (bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  if (chunk === 'VP8X') {
    // Extended: 24-bit canvas width-1 and height-1 at 24 and 27.
    const w = b[24] | (b[25] << 8) | (b[26] << 16);
    const h = b[27] | (b[28] << 8) | (b[29] << 16);
    return found('image/webp', w + 1, h + 1);
  }
  return fail(`its WebP chunk "${chunk.replace(/[^\x20-\x7e]/g, '?')}" is not VP8, VP8L or VP8X`);
}

/** Sniffs PNG, JPEG or WebP from the bytes themselves, whatever Content-Type said. */
export function sniffImage(bytes: Uint8Array): Sniff {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return png(bytes);
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return jpeg(bytes);
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) return webp(bytes);
  return fail('its bytes are not a PNG, JPEG or WebP image');
}
