/**
 * What a `stripes` subcommand is, and typed argument parsing for it (node:util parseArgs, strict:
 * an unknown option or a missing value is a usage error, never ignored).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './errors.ts';

export interface Command {
  name: string;
  /** One line for `stripes help`. */
  summary: string;
  /** The full text of `stripes <name> --help`. */
  usage: string;
  /** Resolves to the exit code (0 when it returns nothing). Throw CliError for expected failures. */
  run(argv: string[]): Promise<number | void>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `argv` against `options`, and checks the positional count against `[min, max]`. */
export function parseCommandArgs<const O extends Options>(
  command: string,
  argv: string[],
  options: O,
  positionals: { min: number; max: number; names: string },
) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    // Node appends advice about '--' that only confuses here.
    throw usageError(command, (e as Error).message.split('\n')[0].split('. To specify')[0]);
  }
  const n = parsed.positionals.length;
  if (n < positionals.min) throw usageError(command, `expected ${positionals.names}`);
  if (n > positionals.max)
    throw usageError(command, `unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`);
  return parsed;
}

/** An option that must be given. */
export function required<T>(command: string, name: string, v: T | undefined): T {
  if (v === undefined) throw usageError(command, `--${name} is required`);
  return v;
}

/** An option whose value must be one of a few words. */
export function oneOf<const T extends string>(command: string, name: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v))
    throw usageError(command, `--${name} must be ${allowed.join(' or ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** An integer option in `[min, max]`, or undefined when not given (a resume may supply it). */
export function intOption(command: string, name: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}..${max}`;
    throw usageError(command, `--${name} must be an integer ${range}, got ${JSON.stringify(v)}`);
  }
  return n;
}
