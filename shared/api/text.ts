/**
 * Human-written text fields (titles, domain names, licences, descriptions, token names): what
 * they may hold. Shown to other people, so they refuse what hides or disguises text: control
 * characters and NUL (a description may keep tabs and line breaks), the bidirectional overrides
 * and isolates (U+202A–202E, U+2066–2069) that reorder what a reader sees, and strings made only
 * of zero-width or other invisible characters. Plain regular expressions: no recursion, no
 * backtracking blow-up.
 */
import { z } from 'zod';

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;
/** White space, default-ignorable code points (zero-width spaces and joiners, fillers, BOM) and other format characters, and the blank braille pattern. */
const INVISIBLE_ONLY = /^[\s\p{Default_Ignorable_Code_Point}\p{Cf}\u2800]+$/u;

const codePoint = (s: string, re: RegExp) => {
  const m = re.exec(s)!;
  return `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} at position ${m.index}`;
};

/** Why a string may not be shown as a label, or null when it may. */
export function textProblem(s: string, multiline = false): string | null {
  const control = multiline ? CONTROL_BUT_LINES : CONTROL;
  if (control.test(s)) return `must not contain control characters (found ${codePoint(s, control)})`;
  if (BIDI_CONTROL.test(s)) return `must not contain bidirectional override or isolate characters (found ${codePoint(s, BIDI_CONTROL)})`;
  if (INVISIBLE_ONLY.test(s)) return 'must contain visible characters, not only invisible or zero-width ones';
  return null;
}

/**
 * A trimmed, bounded text field that refuses what textProblem names. `optional` lets it be empty
 * (after trimming); `multiline` keeps tabs and line breaks.
 */
export function label(max: number, opts: { optional?: boolean; multiline?: boolean } = {}) {
  const base = opts.multiline ? z.string().max(max) : z.string().trim().max(max);
  return (opts.optional ? base : base.min(1)).superRefine((s, ctx) => {
    const problem = s === '' ? null : textProblem(s, opts.multiline);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}
