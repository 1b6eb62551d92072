// Desired state as data. A Resource says what a host should look like; diff() compares it with the
// host's facts and returns Changes (data, not commands); apply turns Changes into one script.
import type { FileFact, PackageManager } from '../facts/facts.js';
import type { HostFacts } from '../facts/gather.js';
import type { JournalTransport } from '../facts/services.js';
import type { Route } from '../inventory/types.js';

export type ServiceAction = 'enable' | 'start' | 'reload' | 'restart' | 'stop' | 'disable';

/** running: enabled and active; enabled: only enabled (a boot-time oneshot); stopped: neither. */
export type ServiceState = 'running' | 'enabled' | 'stopped';

export type Resource =
  | { readonly kind: 'package'; readonly names: readonly string[]; readonly versions: Readonly<Record<string, string>> }
  | { readonly kind: 'sysctl'; readonly key: string; readonly value: string }
  | { readonly kind: 'route'; readonly route: Route; readonly state: 'present' | 'absent' }
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly content: string;
      readonly mode: string; // octal, e.g. "0644"
      readonly owner: string;
      readonly group: string;
      readonly validate?: string; // command with %s for the staged file, e.g. "haproxy -c -f %s"
      readonly daemonReload: boolean; // a systemd unit: systemctl daemon-reload after it changes
      readonly secrets: readonly RegExp[]; // group 1 of each match is masked in diffs
      readonly peerShared: readonly PeerSetting[];
      readonly peers: readonly string[]; // the other hosts that render this file
    }
  /** A file that must not exist: one the tool managed and no longer does (a layout that left). */
  | { readonly kind: 'absent-file'; readonly path: string; readonly daemonReload: boolean; readonly why: string }
  | {
      readonly kind: 'service';
      readonly name: string;
      readonly state: ServiceState;
      /** Why it is stopped (state stopped): shown in the plan. */
      readonly why?: string;
      readonly reloadOn: readonly string[]; // file paths whose change triggers onChange
      readonly onChange: 'reload' | 'restart';
      readonly restartOn: readonly string[]; // file paths that take effect only on a restart
      readonly logFaults: readonly string[]; // logged after a (re)load: it did not load its config well
      readonly logTransports?: readonly JournalTransport[]; // where logFaults are looked for (all when absent)
    };

/** A setting that every peer must change at once (e.g. keepalived's auth_pass); group 1 is its value. */
export interface PeerSetting {
  readonly name: string;
  readonly pattern: RegExp;
}

export type Change =
  | { readonly kind: 'leftovers'; readonly paths: readonly string[] } // staging files of a run that died
  | { readonly kind: 'package-repair' } // dpkg was interrupted: `dpkg --configure -a` first
  | {
      readonly kind: 'package';
      readonly manager: PackageManager;
      readonly install: readonly string[]; // names not installed yet
      readonly versions: Readonly<Record<string, string>>; // pinned versions of install and upgrade
      readonly upgrade: readonly { readonly name: string; readonly from: string; readonly to: string }[]; // installed, another version pinned
    }
  | { readonly kind: 'sysctl'; readonly key: string; readonly from?: string; readonly to: string }
  | { readonly kind: 'route'; readonly route: Route; readonly action: 'add' | 'delete' }
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly before?: FileFact;
      readonly content: string;
      readonly mode: string;
      readonly owner: string;
      readonly group: string;
      readonly validate?: string;
      readonly daemonReload: boolean;
      readonly secrets: readonly RegExp[];
      readonly peerShared: readonly string[]; // names of the peer-shared settings this change alters
      readonly peers: readonly string[];
    }
  /** Removed; its last content is kept in the run's history (and restored should the run fail). */
  | { readonly kind: 'absent-file'; readonly path: string; readonly before: FileFact; readonly daemonReload: boolean; readonly why: string }
  | {
      readonly kind: 'service';
      readonly name: string;
      readonly actions: readonly ServiceAction[];
      readonly why: string;
      /** Files whose new version this service must load: a pending-reload marker names them until it has. */
      readonly loads: readonly string[];
      readonly logFaults: readonly string[];
      readonly logTransports?: readonly JournalTransport[];
    };

export type ResourceKind = Resource['kind'];
export type ResourceOf<K extends ResourceKind> = Extract<Resource, { kind: K }>;

/** Desired state other than the playbook's: e.g. a rollback's files as they were at version N. */
export interface Retarget {
  readonly history: boolean; // the facts read must include the host's history
  /** The playbook's resources for this host → the ones to converge to; throws a HostError if it cannot. */
  resources(resources: Resource[], facts: HostFacts, host: string): Resource[];
  /** The version this host is put back to, if it can be (a rollback), for the run's record. */
  target?(facts: HostFacts): number | undefined;
}
