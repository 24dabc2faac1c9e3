/**
 * IPv4 and IPv6 networks in CIDR notation, parsed strictly and written back normalised (host bits
 * cleared), so a host's list of addresses (`CODERUNNER_DENY_CIDRS`) becomes firewall set elements or
 * one clear error — never a rule that silently matches something else.
 */

export interface Network {
  family: 4 | 6;
  /** The network address with host bits cleared. */
  address: bigint;
  prefix: number;
}

export class CIDRError extends Error {
  override name = "CIDRError";
}

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function parseIPv6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  if (text.includes(".")) {
    // An embedded IPv4 address is the last two groups (::ffff:192.0.2.1).
    const at = text.lastIndexOf(":");
    const v4 = parseIPv4(text.slice(at + 1));
    if (at < 0 || v4 === undefined) return undefined;
    return parseIPv6(`${text.slice(0, at + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`);
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  for (const group of [...head, ...rest]) if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
  const given = head.length + rest.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const words = [...head, ...Array<string>(8 - given).fill("0"), ...rest].map((group) => BigInt(`0x${group}`));
  return words.reduce((value, word) => (value << 16n) | word, 0n);
}

/** Parses `a.b.c.d[/n]` or an IPv6 address `[/n]`; a bare address is a single host. Throws CIDRError. */
export function parseCIDR(input: string): Network {
  const text = input.trim();
  const [addressText, prefixText, extra] = text.split("/");
  if (extra !== undefined || !addressText) throw new CIDRError(`${JSON.stringify(input)} is not an address or network (a.b.c.d/n or an IPv6 address/n)`);
  const v4 = parseIPv4(addressText);
  const v6 = v4 === undefined ? parseIPv6(addressText) : undefined;
  if (v4 === undefined && v6 === undefined) throw new CIDRError(`${JSON.stringify(input)} is not an IPv4 or IPv6 address`);
  const family = v4 !== undefined ? 4 : 6;
  const bits = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) throw new CIDRError(`${JSON.stringify(input)} has no valid prefix length`);
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) throw new CIDRError(`${JSON.stringify(input)}: the prefix length is at most ${bits}`);
  const all = (1n << BigInt(bits)) - 1n;
  const mask = all ^ ((1n << BigInt(bits - prefix)) - 1n);
  return { family, address: (v4 ?? v6!) & mask, prefix };
}

/** The network in the notation nft reads back: `10.0.0.0/8`, `fc00:0:0:0:0:0:0:0/7`. */
export function formatNetwork(network: Network): string {
  if (network.family === 4) {
    const octets = [24n, 16n, 8n, 0n].map((shift) => String((network.address >> shift) & 0xffn));
    return `${octets.join(".")}/${network.prefix}`;
  }
  const groups = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((network.address >> shift) & 0xffffn).toString(16));
  return `${groups.join(":")}/${network.prefix}`;
}

/** A comma-separated list (blank entries ignored), each entry parsed; the first bad one throws. */
export function parseCIDRList(list: string | undefined): Network[] {
  return (list ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map(parseCIDR);
}
