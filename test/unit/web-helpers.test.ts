/**
 * The web app's pure helpers: the STRV validation-set encoder (the format the quality gate
 * reads), the file sniffing behind "this is not a safetensors file (it looks like a JPEG)", and
 * messages as sentences, and how the translator tells a software-rendered GPU from a real one
 * (which decides the Fast/Best default).
 */
import { describe, expect, it } from 'vitest';
import { sentence } from '../../web/src/lib/errors.ts';
import { sniffKind } from '../../web/src/lib/sniff.ts';
import { defaultQuality, defaultReason, isSoftwareAdapter, isSoftwareRenderer } from '../../web/src/lib/quality.ts';

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

describe('software GPU detection', () => {
  it('reads WebGL renderer strings: SwiftShader, llvmpipe and the Basic Render Driver are software, real GPUs are not', () => {
    // What Chromium reports (UNMASKED_RENDERER_WEBGL) on the test machine and on real devices.
    for (const soft of [
      'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)',
      'Google SwiftShader',
      'llvmpipe (LLVM 15.0.6, 256 bits)',
      'ANGLE (Mesa, llvmpipe (LLVM 15.0.7 256 bits), OpenGL 4.5)',
      'ANGLE (Microsoft, Microsoft Basic Render Driver Direct3D11 vs_5_0 ps_5_0, D3D11)',
      'ANGLE (Mesa, lavapipe (LLVM 16), Vulkan 1.3)',
    ])
      expect(isSoftwareRenderer(soft), soft).toBe(true);
    for (const real of [
      'ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 (0x00002503) Direct3D11 vs_5_0 ps_5_0, D3D11)',
      'ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)',
      'Apple GPU',
      'Adreno (TM) 640',
      'Mali-G78',
    ])
      expect(isSoftwareRenderer(real), real).toBe(false);
    expect(isSoftwareRenderer('')).toBe(false);
    expect(isSoftwareRenderer(null)).toBe(false);
  });

  it('reads WebGPU adapters: a fallback adapter or a SwiftShader one is software', () => {
    expect(isSoftwareAdapter({ info: { vendor: 'google', architecture: 'swiftshader', description: '', device: '' } })).toBe(true);
    expect(isSoftwareAdapter({ isFallbackAdapter: true, info: { vendor: 'nvidia', architecture: 'ampere' } })).toBe(true);
    expect(isSoftwareAdapter({ info: { isFallbackAdapter: true } })).toBe(true);
    expect(isSoftwareAdapter({ info: { vendor: 'nvidia', architecture: 'ampere', description: '', device: '' } })).toBe(false);
    expect(isSoftwareAdapter({ info: { vendor: 'apple', architecture: 'common-3' } })).toBe(false);
    expect(isSoftwareAdapter({})).toBe(false);
  });

  it('gives the default quality with its reason: Fast without a real GPU, Best with one', () => {
    expect([defaultQuality('wasm'), defaultReason('wasm')]).toEqual(['fast', 'no GPU is in use here (WebAssembly)']);
    expect([defaultQuality('webgl', true), defaultReason('webgl', true)]).toEqual(['fast', 'the GPU here renders in software']);
    expect([defaultQuality('webgpu', false), defaultReason('webgpu', false)]).toEqual(['full', 'this device has a GPU']);
  });
});
