// The question before changing hosts. --json is an output format: it never answers the question.
import { lazyBuiltin } from '../lazyBuiltin.js';

// Loaded by the first question: runs with --yes, or without a terminal, ask none.
const readline = lazyBuiltin<typeof import('node:readline/promises')>('node:readline/promises');

/** Whether a command that changes hosts asks first: on a TTY, unless --yes (elsewhere --yes is required). */
export function asksFirst(how: { readonly tty: boolean; readonly yes: boolean }): boolean {
  return how.tty && !how.yes;
}

export async function confirmOnTty(question: string): Promise<boolean> {
  const rl = readline().createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Asks once for a secret on the terminal, without echoing it. */
export async function askSecret(question: string): Promise<string> {
  const { stdin, stderr } = process;
  if (!stdin.isTTY) throw new Error('no terminal to ask on');
  stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (chunk: Buffer): void => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            return resolve(typed);
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            return reject(new Error('interrupted'));
          }
          typed = ch === '\u007f' ? typed.slice(0, -1) : typed + ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    stderr.write('\n');
  }
}
