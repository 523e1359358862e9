import type { Command } from 'commander';
import { hashPassword } from '../console/password.js';

/** Reads one line from stdin (the password), without echoing when stdin is a terminal. */
async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of stdin as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return await new Promise<string>((resolve, reject) => {
    let value = '';
    const onData = (b: Buffer): void => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n') { done(); resolve(value); return; }
        if (ch === '\u0003') { done(); reject(new Error('interrupted')); return; }
        if (ch === '\u007f') value = value.slice(0, -1); else value += ch;
      }
    };
    const done = (): void => { stdin.off('data', onData); stdin.setRawMode(false); stdin.pause(); process.stderr.write('\n'); };
    stdin.on('data', onData);
  });
}

/** Registers `rempart console hash-password`: prints a passwordHash for console.operators. */
export function registerConsoleCommands(program: Command): void {
  const cmd = program.command('console').description('operator console utilities');
  cmd.command('hash-password')
    .description('read a password (from the terminal, or stdin) and print its scrypt hash for console.operators[].passwordHash')
    .action(async () => {
      const password = await readPassword('password: ');
      if (password.length < 12) {
        process.stderr.write('refused: use at least 12 characters\n');
        process.exit(2);
      }
      process.stdout.write(`${await hashPassword(password)}\n`);
    });
}
