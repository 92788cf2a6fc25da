/**
 * `stripes`: dispatches to the subcommands in cli/commands/. To add one, write
 * `cli/commands/<name>.ts` exporting `command: Command` (cli/command.ts) and list it in COMMANDS.
 * Commands keep heavy imports (TF.js) inside `run`, so `stripes help` stays fast.
 */
import type { Command } from './command.ts';
import { command as contribute } from './commands/contribute.ts';
import { command as distill } from './commands/distill.ts';
import { command as importTorch } from './commands/import-torch.ts';
import { command as push } from './commands/push.ts';
import { command as train } from './commands/train.ts';
import { command as translate } from './commands/translate.ts';
import { command as validation } from './commands/validation.ts';
import { command as versions } from './commands/versions.ts';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './errors.ts';

const COMMANDS: Command[] = [importTorch, translate, push, train, distill, contribute, validation, versions];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: stripes <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  show this help, or a command's: stripes help <command>`,
    '',
    'Example:',
    '  stripes import-torch horse2zebra_G_A.safetensors horse2zebra_G_B.safetensors --out models/horse2zebra',
    '  stripes translate --model models/horse2zebra --in photos/ --out zebras/',
    '  stripes train --a horses/ --b zebras/ --out models/mine --iters 2000   (then open models/mine/index.html)',
  ].join('\n');
}

const isHelp = (a: string | undefined) => a === '--help' || a === '-h';

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || isHelp(name)) {
    const topic = name === 'help' ? rest[0] : undefined;
    const cmd = topic && COMMANDS.find((c) => c.name === topic);
    if (topic && !cmd) return fail(new CliError(`unknown command "${topic}"\n${usage()}`, EXIT_USAGE));
    process.stdout.write((cmd ? cmd.usage : usage()) + '\n');
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) return fail(new CliError(`unknown command "${name}"\n${usage()}`, EXIT_USAGE));
  if (rest.some(isHelp)) {
    process.stdout.write(cmd.usage + '\n');
    return 0;
  }
  try {
    return (await cmd.run(rest)) ?? 0;
  } catch (e) {
    return fail(e);
  }
}

function fail(e: unknown): number {
  if (e instanceof CliError) {
    process.stderr.write(`stripes: ${e.message}\n`);
    return e.exitCode;
  }
  // Validators throw plain errors whose message already names the field; only a bug needs a stack.
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`stripes: ${err.message}\n`);
  if (process.env.STRIPES_DEBUG) process.stderr.write(`${err.stack}\n`);
  return EXIT_FAILURE;
}

process.exitCode = await main(process.argv.slice(2));
