/**
 * Command dispatcher. Each command lives in its own module exporting
 * `run(argv: string[]): Promise<number>` (the exit code), loaded only when used.
 */
type CommandModule = { run(argv: string[]): Promise<number> };

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {};

/** Registered by name so each command's module stays independent. */
export function defineCommands(table: typeof COMMANDS): void {
  Object.assign(COMMANDS, table);
}

import { COMMAND_TABLE } from './commands.ts';
import { printError } from './fail.ts';
defineCommands(COMMAND_TABLE);

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`);
  return `usage: flotilla <command> [options]\n\ncommands:\n${rows.join('\n')}\n\nRun 'flotilla <command> --help' for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`flotilla: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await cmd.load()).run(rest);
  } catch (e) {
    return printError(name, e);
  }
}
