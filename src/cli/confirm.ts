// The question before changing hosts. --json is an output format: it never answers the question.
import { createInterface } from 'node:readline/promises';

/** Whether a command that changes hosts asks first: on a TTY, unless --yes (elsewhere --yes is required). */
export function asksFirst(how: { readonly tty: boolean; readonly yes: boolean }): boolean {
  return how.tty && !how.yes;
}

export async function confirmOnTty(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
