// Secrets are masked where they stand (a playbook file's `secrets:` patterns). A secret whose value also
// occurs anywhere else in what the tool prints — a path, another config line, a host name — could only
// be hidden by masking that too, which garbles the plan and gives the value away (`/etc/********/…`
// above an unmasked `a/etc/haproxy/…`). Such a value is refused before any connection opens.
import { InventoryError, type InventoryProblem } from '../errors.js';
import { freshHostFacts } from '../facts/gather.js';
import { hasRole, inventorySecrets, type Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/playbook.js';
import { resourcesFor } from '../playbook/desired.js';
import { maskPatterns } from '../redact.js';
import type { Resource } from '../resources/types.js';

/** What the plan and reports may show of a resource: everything but the masked secret fields. */
function plainText(r: Resource): string {
  switch (r.kind) {
    case 'file':
      return `${r.path}\n${r.owner}:${r.group}\n${maskPatterns(r.content, r.secrets)}`;
    case 'absent-file':
      return r.path;
    case 'package':
      return r.names.join(' ');
    case 'sysctl':
      return `${r.key}=${r.value}`;
    case 'route':
      return `${r.route.to} via ${r.route.via} dev ${r.route.dev}`;
    case 'service':
      return r.name;
  }
}

/** Throws an InventoryError naming each secret that shows up outside its masked place. */
export async function refuseExposedSecrets(playbook: Playbook, inventory: Inventory): Promise<void> {
  const secrets = inventorySecrets(inventory).filter((s) => s.value !== '');
  if (secrets.length === 0) return;
  // The SSH settings and their sources (paths, ssh config lines, jump hosts) are printed by facts and --json.
  const texts: string[] = [inventory.cluster.name, ...inventory.hosts.map((h) => `${h.name} ${h.address} ${h.ip} ${h.ssh.user} ${JSON.stringify(h.sshSources ?? {})}`)];
  // Every template, rendered as every kind of host sees it: each lb (their files differ in priority and
  // state) and one host of each other set of roles (theirs differ only in names and addresses, above).
  const seen = new Set<string>();
  const representatives = inventory.hosts.filter((h) => {
    const kind = h.roles.join(',');
    if (hasRole(h, 'lb')) return true;
    if (seen.has(kind)) return false;
    seen.add(kind);
    return true;
  });
  for (const host of representatives) {
    for (const family of ['debian', 'rhel'] as const) {
      for (const r of await resourcesFor(playbook, inventory, host, freshHostFacts(family))) texts.push(plainText(r));
    }
  }
  // Where it occurs is not said: "it occurs in haproxy.cfg" would narrow the secret down in a CI log.
  const problems: InventoryProblem[] = secrets
    .filter((secret) => texts.some((text) => text.includes(secret.value)))
    .map((secret) => ({
      path: secret.path.join('.'),
      message:
        'this secret also occurs in what the tool prints (a rendered config, a path, a host name or address) outside the place where it is ' +
        'masked, so it could not be hidden there without garbling the plan and giving it away; choose a value that occurs nowhere else',
    }));
  if (problems.length > 0) throw new InventoryError(inventory.file, problems);
}
