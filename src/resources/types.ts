// Desired state as data. A Resource says what a host should look like; diff() compares it with the
// host's facts and returns Changes (data, not commands); apply turns Changes into one script.
import type { FileFact, PackageManager } from '../facts/facts.js';
import type { Route } from '../inventory/types.js';

export type ServiceAction = 'enable' | 'start' | 'reload' | 'restart';

export type Resource =
  | { readonly kind: 'package'; readonly names: readonly string[] }
  | { readonly kind: 'sysctl'; readonly key: string; readonly value: string }
  | { readonly kind: 'route'; readonly route: Route; readonly state: 'present' | 'absent' }
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly content: string;
      readonly mode: string; // octal, e.g. "0644"
      readonly validate?: string; // command with %s for the staged file, e.g. "haproxy -c -f %s"
      readonly daemonReload: boolean; // a systemd unit: systemctl daemon-reload after it changes
      readonly secrets: readonly RegExp[]; // group 1 of each match is masked in diffs
    }
  | {
      readonly kind: 'service';
      readonly name: string;
      readonly running: boolean; // false: only enabled (e.g. a boot-time oneshot)
      readonly reloadOn: readonly string[]; // file paths whose change triggers onChange
      readonly onChange: 'reload' | 'restart';
    };

export type Change =
  | {
      readonly kind: 'package';
      readonly manager: PackageManager;
      readonly install: readonly string[];
    }
  | { readonly kind: 'sysctl'; readonly key: string; readonly from?: string; readonly to: string }
  | { readonly kind: 'route'; readonly route: Route; readonly action: 'add' | 'delete' }
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly before?: FileFact;
      readonly content: string;
      readonly mode: string;
      readonly owner: string; // kept from the existing file; root for a new one
      readonly group: string;
      readonly validate?: string;
      readonly daemonReload: boolean;
      readonly secrets: readonly RegExp[];
    }
  | { readonly kind: 'service'; readonly name: string; readonly actions: readonly ServiceAction[]; readonly why: string };

export type ResourceKind = Resource['kind'];
export type ResourceOf<K extends ResourceKind> = Extract<Resource, { kind: K }>;
