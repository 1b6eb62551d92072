// Typed errors. The CLI's one top-level catch maps them to exit codes and messages; nothing else exits.

/** Bad user input (inventory, flags, playbook). Exit 1, before any SSH connection opens. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface InventoryProblem {
  readonly path: string; // key path inside the file, e.g. "hosts.lb-1.priority"
  readonly message: string; // what is wrong and what is allowed
}

/** Every problem found in one inventory file, reported together. */
export class InventoryError extends Error {
  override readonly name = 'InventoryError';
  constructor(
    readonly file: string,
    readonly problems: readonly InventoryProblem[],
  ) {
    super(problems.map((p) => `${file}: ${p.path}: ${p.message}`).join('\n'));
  }
}

/** Something on or about a remote host failed (connect, auth, host key, command). */
export class HostError extends Error {
  override readonly name = 'HostError';
  constructor(
    readonly host: string,
    readonly reason: string, // the message without the host name, for reports that already name it
  ) {
    super(`${host}: ${reason}`);
  }
}

/** A lab prerequisite is missing: one line saying what and how to fix it. */
export class LabError extends Error {
  override readonly name = 'LabError';
}

/** A rollout outside its maintenance window: refused before anything changed, or stopped between hosts. Exit 4. */
export class OutsideWindowError extends Error {
  override readonly name = 'OutsideWindowError';
}
