/**
 * Reads and writes safetensors (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length, a JSON header of `{name: {dtype, shape, data_offsets}}` (plus an
 * optional `__metadata__`), then the raw little-endian tensor bytes.
 *
 * This is how PyTorch weights reach Stripes (one line of Python turns a `.pth` state_dict into
 * it) and how the test fixtures made by the PyTorch reference are stored. The reader trusts
 * nothing in the header: every offset, shape and dtype is checked against the bytes present.
 */
import { float16ToFloat32 } from './float16.ts';

export type SafetensorsDtype = 'F32' | 'F16';

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Values widened to float32 (F16 is converted). */
  data: Float32Array;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** The header says at most this much; real headers of CycleGAN state_dicts are a few KB. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function readSafetensors(bytes: Uint8Array, what = 'file'): {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
} {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${what}: ${msg}`);
  };
  if (bytes.byteLength < 8) fail(`not a safetensors file (only ${bytes.byteLength} bytes; a header length needs 8)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen < 2 || headerLen > MAX_HEADER_BYTES)
    fail(`not a safetensors file (header length ${headerLen} is implausible)`);
  if (8 + headerLen > bytes.byteLength)
    fail(`truncated: header says ${headerLen} bytes but the file has ${bytes.byteLength - 8} after the length`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    fail('not a safetensors file (its header is not JSON)');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('not a safetensors file (its header is not a JSON object)');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, SafetensorsTensor>();
  let metadata: Record<string, string> = {};
  const spans: Array<[number, number, string]> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) fail(`tensor "${name}": header entry is not an object`);
    if (info.dtype !== 'F32' && info.dtype !== 'F16')
      fail(`tensor "${name}": unsupported dtype ${JSON.stringify(info.dtype)} (expected F32 or F16)`);
    const dtype = info.dtype as SafetensorsDtype;
    if (!Array.isArray(info.shape) || !info.shape.every((d) => Number.isInteger(d) && d >= 0))
      fail(`tensor "${name}": shape ${JSON.stringify(info.shape)} is not a list of non-negative integers`);
    const shape = info.shape as number[];
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0))
      fail(`tensor "${name}": data_offsets ${JSON.stringify(offs)} is not [begin, end]`);
    const [begin, end] = offs as [number, number];
    const width = dtype === 'F32' ? 4 : 2;
    const count = shape.reduce((a, b) => a * b, 1);
    if (end < begin) fail(`tensor "${name}": data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen)
      fail(`tensor "${name}": data_offsets [${begin}, ${end}] run past the data (${dataLen} bytes): truncated or corrupt`);
    if (end - begin !== count * width)
      fail(`tensor "${name}": shape [${shape}] of ${dtype} needs ${count * width} bytes but data_offsets span ${end - begin}`);
    spans.push([begin, end, name]);
    const src = bytes.subarray(dataStart + begin, dataStart + end);
    // Copy so the result never aliases (or misaligns against) the caller's buffer.
    const copy = new Uint8Array(src);
    const data =
      dtype === 'F32'
        ? new Float32Array(copy.buffer, 0, count)
        : float16ToFloat32(new Uint16Array(copy.buffer, 0, count));
    tensors.set(name, { dtype, shape, data });
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) fail(`tensors "${spans[i - 1][2]}" and "${spans[i][2]}" overlap in the data`);
  }
  return { tensors, metadata };
}

/** Writes float32 tensors as safetensors (F32). Used by tests and by exports for PyTorch. */
export function writeSafetensors(
  tensors: Array<{ name: string; shape: number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`writeSafetensors: "${t.name}" has ${t.data.length} values for shape [${t.shape}]`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + n * 4] };
    offset += n * 4;
  }
  let json = JSON.stringify(header);
  // Pad the header so the data starts 8-byte aligned, as the reference writer does.
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += ' ';
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}
