/**
 * Integers in paths and query strings, canonical decimal only: `1` names version 1, and `01`,
 * `1.0`, `1e0`, `0x1`, `+1` or ` 1` name nothing (400). One spelling per number keeps caches,
 * ETags and logs unambiguous.
 */
import { z } from 'zod';

const DECIMAL = /^(0|[1-9][0-9]{0,14})$/;
const MESSAGE = 'must be a whole number in plain decimal digits (no sign, leading zero, space, fraction, exponent or hex)';

/** A canonical decimal integer in min..max. */
export function decimal(min: number, max: number) {
  return z
    .string()
    .regex(DECIMAL, MESSAGE)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

/** A canonical decimal integer in min..max, or `fallback` when the parameter is absent or empty (`limit=`). */
export function decimalOr(min: number, max: number, fallback: number) {
  return z
    .union([z.literal(''), z.string().regex(DECIMAL, MESSAGE)])
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : Number(v)))
    .pipe(z.number().int().min(min).max(max));
}
