// What an agent needs from a connection to its host. ssh.ts implements it over ssh2; tests can use a
// real local shell.

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Transport {
  /** Runs a POSIX sh script (fed on stdin, as root: through `sudo -n` for other users). */
  exec(script: string): Promise<ExecResult>;
  /** How many execs this connection has run: the round-trip budget is asserted on this. */
  readonly execCount: number;
  close(): void;
}
