/**
 * The CLI's one error class. Anything thrown as a CliError is an expected failure (bad input,
 * a missing file): main prints it as one line `stripes: <message>` and exits with its code.
 */

/** Exit codes: 1 the command failed, 2 it was called wrongly (usage). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
  }
}

/** A usage mistake, pointing at the command's help. */
export function usageError(command: string, message: string): CliError {
  return new CliError(`${command}: ${message} (see 'stripes ${command} --help')`, EXIT_USAGE);
}
