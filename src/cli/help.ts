// Every command's --help text: what it does, its options and exit codes (the README shows the same).

export const HELP: Record<string, string> = {
  main: `ha-provision — a highly available virtual IP (keepalived, with haproxy or nginx) in front of Kubernetes API servers

Usage: ha-provision <command> [options]

Commands:
  up <inventory.yaml>       converge every host; shows the plan, asks on a TTY, applies, verifies
  rollout <inventory.yaml>  the same plan, applied host by host: servers, BACKUP lbs, the VIP holder last
  rollback <inventory.yaml> [--to N]   put the config files back as a recorded version had them
  plan <inventory.yaml>     what up would change, with diffs; changes nothing (exit 0 in sync, 2 pending)
  verify <inventory.yaml>   nc/curl checks through the VIP and on the lbs (--ca FILE: the API certificate too)
  facts <inventory.yaml>    what the hosts look like now
  render <inventory.yaml> --out DIR   the rendered configs per host, no SSH
  init <inventory.yaml> --lb A,B --server X,Y --vip CIDR   write a new, commented inventory
  completion bash|zsh       a shell completion script: source <(ha-provision completion bash)
  history [inventory.yaml]  the runs of up, rollout and rollback recorded on this machine; history show N
  lab up|down|status|stop|start|partition|heal|exec   a local fleet of real test hosts (root, Linux)

SSH: the inventory's ssh: keys, then ~/.ssh/config (or ssh: { config: FILE }; config: false for none) for
each host's address, which may be a Host alias: HostName, User, Port, IdentityFile, UserKnownHostsFile,
StrictHostKeyChecking, ConnectTimeout, ProxyJump (hosts behind one jump host share one connection to it).
facts and --json show each host's effective SSH settings and where each came from.

Options: --help on every command, --version, --ask-sudo-password (one prompt per run, for non-root users
whose sudo asks; or ssh.sudoPassword: { env: NAME }). Exit codes: 0 ok, 1 error, 2 changes pending (plan),
4 outside the maintenance window (rollout).
The inventory's JSON Schema ships as schema/inventory.schema.json (for editors; see inventory/example.yaml).
Colour only on a TTY and never with NO_COLOR.`,
  up: `Usage: ha-provision up <inventory.yaml> [options]

Reads every host (one SSH connection each), prints the plan, asks for confirmation on a TTY (outside a
terminal it refuses without --yes), applies
(files validated on the host before they replace anything; haproxy reloaded, never restarted, when its
config changes), then verifies through the VIP.

Options:
  --dry-run            plan only (same as \`plan\`)
  --yes                do not ask before applying
  --limit a,b          only these hosts
  --concurrency N      hosts worked on at once (default 100)
  --json               machine-readable report on stdout
  --no-verify          skip the checks at the end
  --playbook FILE      your own playbook instead of playbooks/<topology>.yaml (<topology>.static-pod.yaml)
  --templates DIR      templates here shadow the built-in ones, file by file
  --allow-ssh-path-change   apply a route that changes how a host reaches this machine (refused otherwise)
  --force-unlock       apply even where another run's lock is held: its apply script is stopped first
  --plan FILE          apply exactly a plan saved by \`plan --out FILE\`: not asked again; refused if a host drifted
  --history FILE       record this run there, not in <inventory dir>/.ha-provision/history.jsonl (see \`history\`)

One run at a time per host: an apply holds a lock on the host (flock on /run/ha-provision.lock) naming
its controller, pid, user and start. up refuses a host whose lock is held, naming the holder; a lock left
by a run killed outright is taken over, and said so. A file edited between plan and apply stops that host.

With --limit, a change its peers must share (keepalived's auth_pass, virtual_router_id, advert_int,
unicast peers) is refused unless every lb is in the limit; verify still reads every lb.
--json is an output format: on a TTY, up still asks unless --yes.`,
  rollout: `Usage: ha-provision rollout <inventory.yaml> [options]

The plan of up, applied host by host with a gate through the VIP before each step (it must serve, and
the step must leave a healthy lb), printing a timeline:
  1. servers, --batch N at a time (default 1), then their API port checked from every lb;
  2. lbs one by one, BACKUPs first and the VIP holder last. A change that reloads (haproxy or keepalived
     config) is applied in place: the VIP does not move. A change that interrupts the service (a restart,
     a drop-in, an upgrade that restarts) drains the lb first: the holder hands the VIP to a BACKUP that
     already runs the new version, confirmed through the VIP, and gets it back after its local checks;
  3. a change every lb must share (keepalived auth_pass, virtual_router_id, advert_int, unicast peers)
     goes to every lb in one step, the BACKUPs drained so that none takes the VIP meanwhile.
A failed step restores that host (as up does), stops the rollout and exits 1, saying which hosts run the
new config and which the old; the next rollout continues from there.

Options: --yes, --json, --limit a,b, --dry-run, --no-verify, --force-unlock, --playbook, --templates, --history as for up
  --batch N            servers changed at once (default 1)
  --pause S|enter      between steps: wait S seconds, or for Enter (on a terminal)
  --window SPEC        maintenance windows, e.g. "Sat 02:00-04:00", "daily 01:00-03:00", "Mon-Fri 22:00-02:00",
                       several separated by commas (default: the inventory's maintenance.windows; none: any time)
  --tz ZONE            the windows' IANA time zone (default: maintenance.timeZone, or local time)
  --wait-for-window    outside a window, wait for the next one instead of refusing
  --plan FILE          apply exactly a plan saved by \`plan --out FILE\` (refused if a host drifted since)
Outside a window: refused, exit 4, naming the next start. Inside, a step starts only if the window has room
for it (judged from the longest step so far); when it closes, the rollout stops between hosts, exit 4.`,
  plan: `Usage: ha-provision plan <inventory.yaml> [--limit a,b] [--concurrency N] [--json] [--out FILE] [--playbook FILE] [--templates DIR] [--allow-ssh-path-change]

Per host: packages to install, sysctls old → new, routes to add or delete, files to remove and services to
stop (what a layout that left had put there), unified diffs of every file (content,
owner and mode), what will be started or reloaded — including services that never loaded files an
interrupted run installed — and staging files such a run left behind. Takes no lock, and says when a run
is in progress on a host (or left a stale lock). Changes nothing. Secrets are masked.
--out FILE saves the plan for a change ticket (no secret in clear): \`up --plan FILE\` or \`rollout --plan FILE\`
applies exactly that plan later, and refuses, naming host and file, if anything differs by then.
Exit 0 when every host is in sync, 2 when changes are pending, 1 on any error.`,
  rollback: `Usage: ha-provision rollback <inventory.yaml> [--to N] [--limit a,b] [--dry-run] [--yes] [--json] [--no-verify] [--history FILE]

Lists what was applied when on each host (every run that changed files is a numbered version, kept on the
host under /var/lib/ha-provision/history: who, when, and each file before and after), then puts the config
files that services load back as they were after version N (--to N; 0 is before the first kept version),
or as they were before the last version. Same plan, confirmation, lock, validation, reload checks and
verify as up. Packages, sysctls and routes follow the inventory, not the history. The rollback is itself a
new version; up puts the inventory back. The last 10 versions are kept (history.keep in the inventory).
Each rollback (not --dry-run) is recorded in this machine's run history, as up is (see \`history\`).`,
  history: `Usage: ha-provision history [inventory.yaml | DIR] [--history FILE] [--json]
       ha-provision history show N [inventory.yaml | DIR] [--history FILE] [--json]

Every up, rollout and rollback that could change hosts (not plan, not --dry-run) appends one record to
<inventory dir>/.ha-provision/history.jsonl on this machine — or to --history FILE, or $HA_PROVISION_HISTORY —
however it ends: done, failed, declined (aborted), a rollout stopped, or interrupted (Ctrl-C, SIGTERM).
A record: the command and flags, who (OS user, sudo user, this host's name), start, end and duration, the
inventory's path and sha256, the playbook, per host its changes as the plan lists them (diffs with secrets
masked), its outcome, error and version numbers on the host (before, after, and for a rollback the version
put back), verify's checks, and the outcome and exit code. No secret is written.

history lists the runs, one line each: N, start (UTC), duration, who, outcome, hosts changed/failed and the
version the run wrote, and the command. history show N shows run N in full (--json: the record as stored,
with n). N is the record's line in the file. Without an inventory, the history of ./ is read. A torn last
line (a run killed while writing) is skipped, and said so. A run killed outright (SIGKILL) is not recorded.`,
  verify: `Usage: ha-provision verify <inventory.yaml> [--limit a,b] [--json] [--ca FILE] [--failover [--failover-backends] [--yes]]

Checks: TCP and HTTPS through the VIP from this machine, exactly one lb holds the VIP (every lb is read,
also those outside --limit), every lb reaches every backend, haproxy and keepalived active, and neither
logged a fault (such as a disabled track script) since its last (re)load, as far back as its last 300
lines of journal reach (the check says when they stop short of it; haproxy's are what it printed itself,
not its log of every connection). Exit 0 when all pass, 1 otherwise.

--ca FILE    also the API server's certificate as a client of the VIP sees it: this machine connects with
             TLS to VIP:frontendPort (once per server, at most 7; 5 s each at most) and checks that the
             chain verifies against FILE (the cluster CA: /etc/kubernetes/pki/ca.crt on kubeadm,
             /var/lib/rancher/k3s/server/tls/server-ca.crt on k3s), that its SANs cover the VIP and
             cluster.endpoint (when set; also sent as SNI), and its dates (expiring within 30 days: warn).
             A missing SAN names the fix: kubeadm apiServer.certSANs, k3s/RKE2 --tls-san.

--failover   then a failover drill on the live fleet (not with --limit). It needs two healthy lbs and the
             VIP on the preferred (highest-priority) lb, asks on a TTY (elsewhere it needs --yes), and with
             20 HTTPS requests/s through the VIP, each on a new connection, it stops keepalived on the VIP
             holder, then haproxy on it (only the track script can move the VIP), restoring each and
             waiting until the VIP is back on the preferred lb. Per fault: the gap until requests succeed
             again, requests failed/sent, the VIP holder before → during → after. Every wait is bounded,
             and what it stopped is restored on error or Ctrl-C (and by a systemd timer on the host, should
             this process die). Exit 0 when every fault recovered and the VIP ended on the preferred lb.
--failover-backends   also make every backend unreachable from the lbs (an unreachable route per server
             address on each lb; the servers are not touched) and report what the VIP does: requests
             cannot succeed until it is restored; with a check weight the VIP stays held, without one
             every lb goes to FAULT and releases it.`,
  facts: `Usage: ha-provision facts <inventory.yaml> [--limit a,b] [--json]

What each host looks like now: OS, package manager, managed packages, sysctls, routes, addresses, managed
files (hash, owner, mode) and services. One SSH exec per host. A file that holds a secret shows the hash of
its masked text (maskedSha256), never a plain hash that would let a guess of the secret be confirmed.`,
  render: `Usage: ha-provision render <inventory.yaml> --out DIR [--family debian|rhel] [--playbook FILE] [--templates DIR]

Writes every host's rendered files to DIR/<host>/<path> without connecting to any host. Host addresses
written as names are resolved on this machine, as for every command (keepalived's unicast peers need the
IPs); an inventory of IPv4 addresses needs no network at all. Files hold secrets (keepalived auth_pass):
DIR is created private (0700).`,
  init: `Usage: ha-provision init <inventory.yaml> --lb A,B --server X,Y,Z --vip 10.0.0.100/24 (--interface IF | --probe) [options]

Writes a new, commented inventory (never over an existing file) and says what to run next. The text is
checked by the same loader as every command before it is written: an invalid result writes nothing.
On a terminal, init asks for whatever the flags did not give; elsewhere a missing flag is an error.

  --lb LIST            load balancer addresses (IPv4 or DNS names), comma-separated: lb-1, lb-2, …
  --server LIST        kube-apiserver addresses: server-1, …; an address in both lists is one host with
                       both roles (node-N; the VIP then listens on 8443). A DNS name gives its first label.
  --vip CIDR           the virtual IP with the prefix of the lb subnet
  --interface IF       the lbs' interface for VRRP and the VIP (the same on every lb), or:
  --probe              ask each lb over SSH (one connection, one command; host keys checked as the file
                       says) which interface has an address in the VIP's subnet, and note its OS
  --name NAME          cluster name (default: the file's name without .yaml)
  --topology T         haproxy-keepalived (default) or nginx
  --user U, --ssh-port N, --identity-file F, --known-hosts F   SSH settings (default: root, 22, your ssh
                       agent, ~/.ssh/known_hosts; host keys are checked strictly)
  --auth-pass-env NAME the keepalived password is read from \$NAME at every run. Without it, init
                       generates a random 8-character one and keeps it in the file (written mode 0600)
virtualRouterId is the VIP's last octet: change it if another VRRP group on that network uses it.`,
  completion: `Usage: ha-provision completion bash|zsh

Prints a completion script: commands, each command's flags, and for --limit the host names of the
inventory on the line (comma-separated lists complete after the last comma; read from the file, nothing
connects, no secret is needed).
  bash: source <(ha-provision completion bash)          (e.g. in ~/.bashrc)
  zsh:  ha-provision completion zsh > ~/.zfunc/_ha-provision, with fpath=(~/.zfunc $fpath) before
        compinit in ~/.zshrc; or, after compinit: source <(ha-provision completion zsh)`,
};
