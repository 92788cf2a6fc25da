import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16 } from '../../shared/weights/float16.ts';

// Reference values from numpy's float32 → float16 → float32 round trip (round to nearest even).
describe('float16 transport encoding', () => {
  it('rounds like numpy, including subnormals, overflow and ties', () => {
    const input = new Float32Array([0, 1, -2.5, 65504, 70000, 1e-8, 6e-5, 0.1, 3.14159, -Infinity, 5.96e-8, 2.98e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11]);
    const numpy = [0, 1, -2.5, 65504, Infinity, 0, 6.002187728881836e-5, 0.0999755859375, 3.140625, -Infinity, 5.960464477539063e-8, 0, 1, 1.001953125];
    expect(Array.from(float16ToFloat32(float32ToFloat16(input)))).toEqual(numpy);
  });
  it('keeps NaN a NaN', () => {
    expect(Number.isNaN(float16ToFloat32(float32ToFloat16(new Float32Array([NaN])))[0])).toBe(true);
  });
});
