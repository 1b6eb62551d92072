// Progress on a TTY: one listr2 task per host (see progress.ts for the plain variant).
import { Listr, type ListrTaskWrapper } from 'listr2';
import type { Inventory } from '../inventory/types.js';
import type { HostReport, Progress } from '../agent/orchestrator.js';

/** One listr2 task per host, started when the fleet starts changing (the plan is printed before). */
export function ttyProgress(inventory: Inventory, limit?: readonly string[]): Progress {
  const hosts = inventory.hosts.filter((h) => !limit || limit.includes(h.name)).map((h) => h.name);
  const tasks = new Map<string, { task?: ListrTaskWrapper<unknown, never, never>; text?: string; report?: HostReport; finish?: (r: HostReport) => void }>();
  let running: Promise<unknown> | undefined;
  const start = (): void => {
    if (running) return;
    const listr = new Listr(
      hosts.map((host) => ({
        title: host,
        task: (_ctx: unknown, task: ListrTaskWrapper<unknown, never, never>) =>
          new Promise<void>((resolve, reject) => {
            const entry = tasks.get(host) ?? {};
            entry.task = task;
            if (entry.text) task.output = entry.text;
            entry.finish = (r) => {
              task.title = `${host}: ${r.status}${r.changes.length ? ` (${r.changes.length} change(s))` : ''}`;
              if (r.error) reject(new Error(r.error.split('\n')[0]));
              else resolve();
            };
            tasks.set(host, entry);
            if (entry.report) entry.finish(entry.report); // done before listr got to this task
          }),
      })),
      { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false } } as never,
    );
    running = listr.run().catch(() => undefined);
  };
  return {
    phase: () => start(),
    step: (host, text) => {
      const entry = tasks.get(host) ?? {};
      entry.text = text;
      if (entry.task) entry.task.output = text;
      tasks.set(host, entry);
    },
    done: (host, r) => {
      const entry = tasks.get(host) ?? {};
      entry.report = r;
      tasks.set(host, entry);
      entry.finish?.(r);
    },
    close: async () => void (await running),
  };
}
