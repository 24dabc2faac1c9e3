import { formatNetwork, type Network, parseCIDR } from "./cidr";

/**
 * The sandbox's firewall: one nftables `inet` table in the container's own network namespace,
 * installed by the boot before anything else runs, and unchangeable afterwards because no process
 * keeps CAP_NET_ADMIN. Docker's own rules in that namespace (its embedded DNS) are left alone.
 *
 * Out: loopback; replies; DNS (udp/tcp 53) only to the nameservers of /etc/resolv.conf; then the
 * host's own addresses (`CODERUNNER_DENY_CIDRS`), link-local (cloud metadata at 169.254.169.254),
 * private, shared, multicast and reserved ranges are refused; the rest is accepted when egress is on
 * and refused when it is off (DNS included, even through Docker's resolver on loopback).
 * In: loopback, replies, and TCP to the API port from anywhere (the host reaches the API through
 * Docker's port publishing); everything else is dropped.
 *
 * Refused means rejected, not silently dropped: TCP gets a reset (connect() fails at once with
 * ECONNREFUSED, which every HTTP client reports as "connection refused"), anything else an ICMP
 * "administratively prohibited" (EHOSTUNREACH at once). A silently dropped SYN makes an agent's
 * code hang for minutes in connect() and then blame the network; a refusal is immediate and says
 * what happened, and tells the code inside nothing it does not already know.
 */

/** Never reachable from a sandbox, whatever the host passes. */
export const BLOCKED_IPV4 = [
  "0.0.0.0/8", // "this network"
  "10.0.0.0/8", // private
  "100.64.0.0/10", // carrier-grade NAT (shared address space)
  "127.0.0.0/8", // loopback, when not on the loopback interface
  "169.254.0.0/16", // link-local: cloud metadata services (169.254.169.254)
  "172.16.0.0/12", // private: Docker's bridges, other sandboxes, the host's gateway
  "192.0.0.0/24", // IETF protocol assignments
  "192.168.0.0/16", // private
  "198.18.0.0/15", // benchmarking, used inside some networks
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, and the broadcast address 255.255.255.255
] as const;

export const BLOCKED_IPV6 = [
  "::/128", // unspecified
  "::1/128", // loopback, when not on the loopback interface
  "::ffff:0:0/96", // IPv4-mapped
  "fc00::/7", // unique local (private)
  "fe80::/10", // link-local
  "fec0::/10", // site-local (deprecated)
  "ff00::/8", // multicast
] as const;

export interface FirewallOptions {
  /** TCP port accepted from anywhere (the REST API). */
  apiPort: number;
  /** Accept traffic to the public internet; off refuses everything that leaves the sandbox, DNS too. */
  egress: boolean;
  /** The resolvers of /etc/resolv.conf: the only DNS servers reachable (when egress is on). */
  nameservers: Network[];
  /** Also refused: the host's own addresses and anything else the host names. */
  denied: Network[];
}

/** The nameserver addresses of a resolv.conf text (scope suffixes removed, unparsable lines skipped). */
export function nameserversOf(resolvConf: string): Network[] {
  const found: Network[] = [];
  for (const match of resolvConf.matchAll(/^\s*nameserver\s+(\S+)/gm)) {
    try {
      found.push(parseCIDR(match[1]!.replace(/%.*$/, "")));
    } catch {
      // Not an address: the resolver ignores it too.
    }
  }
  return found;
}

function set(name: string, type: "ipv4_addr" | "ipv6_addr", elements: string[]): string[] {
  const lines = [`\tset ${name} {`, `\t\ttype ${type}`, "\t\tflags interval", "\t\tauto-merge"];
  if (elements.length) lines.push(`\t\telements = { ${elements.join(", ")} }`);
  lines.push("\t}");
  return lines;
}

const ipv4 = (networks: Network[]) => networks.filter((n) => n.family === 4).map(formatNetwork);
const ipv6 = (networks: Network[]) => networks.filter((n) => n.family === 6).map(formatNetwork);

/** The ruleset for `nft -f`: replaces the table `inet coderunner` in one transaction. */
export function firewallRuleset(options: FirewallOptions): string {
  const { apiPort, egress } = options;
  if (!Number.isInteger(apiPort) || apiPort < 1 || apiPort > 65535) throw new RangeError(`API port ${apiPort} is not a TCP port`);
  const blocked = [...BLOCKED_IPV4, ...BLOCKED_IPV6].map((cidr) => parseCIDR(cidr));
  const output = [
    "\tchain output {",
    "\t\ttype filter hook output priority filter; policy drop;",
    // Off: not even Docker's embedded resolver (127.0.0.11, reached over loopback) may be asked,
    // since it resolves names on the internet for the sandbox — a channel out.
    ...(egress ? [] : ["\t\tip daddr @nameservers_ipv4 jump refuse", "\t\tip6 daddr @nameservers_ipv6 jump refuse"]),
    '\t\toifname "lo" accept',
    "\t\tct state established,related accept",
    "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept",
    ...(egress
      ? [
          "\t\tip daddr @nameservers_ipv4 udp dport 53 accept",
          "\t\tip daddr @nameservers_ipv4 tcp dport 53 accept",
          "\t\tip6 daddr @nameservers_ipv6 udp dport 53 accept",
          "\t\tip6 daddr @nameservers_ipv6 tcp dport 53 accept",
          "\t\tip daddr @denied_ipv4 jump refuse",
          "\t\tip6 daddr @denied_ipv6 jump refuse",
          "\t\tip daddr @blocked_ipv4 jump refuse",
          "\t\tip6 daddr @blocked_ipv6 jump refuse",
          "\t\taccept",
        ]
      : ["\t\tjump refuse"]),
    "\t}",
  ];
  return [
    `# CodeRunner sandbox firewall (src/confinement/firewall.ts): egress ${egress ? "on" : "off"}`,
    "table inet coderunner",
    "delete table inet coderunner",
    "table inet coderunner {",
    ...set("blocked_ipv4", "ipv4_addr", ipv4(blocked)),
    ...set("blocked_ipv6", "ipv6_addr", ipv6(blocked)),
    ...set("denied_ipv4", "ipv4_addr", ipv4(options.denied)),
    ...set("denied_ipv6", "ipv6_addr", ipv6(options.denied)),
    ...set("nameservers_ipv4", "ipv4_addr", ipv4(options.nameservers)),
    ...set("nameservers_ipv6", "ipv6_addr", ipv6(options.nameservers)),
    "\tchain input {",
    "\t\ttype filter hook input priority filter; policy drop;",
    '\t\tiifname "lo" accept',
    "\t\tct state established,related accept",
    `\t\ttcp dport ${apiPort} accept`,
    "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept",
    "\t}",
    ...output,
    "\tchain refuse {",
    "\t\tmeta l4proto tcp reject with tcp reset",
    "\t\treject with icmpx type admin-prohibited",
    "\t}",
    "}",
    "",
  ].join("\n");
}

/** Installs `ruleset` with `nft -f -`; throws with nft's own words when it refuses. */
export async function installFirewall(ruleset: string, nft = "/usr/sbin/nft"): Promise<void> {
  const proc = Bun.spawn([nft, "-f", "-"], { stdin: new TextEncoder().encode(ruleset), stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`nft could not install the sandbox firewall (exit ${code}): ${(err || out).trim()}`);
}
