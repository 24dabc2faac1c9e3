import { describe, expect, test } from "bun:test";
import { CIDRError, formatNetwork, parseCIDR, parseCIDRList } from "../../../src/confinement/cidr";
import { firewallRuleset, nameserversOf } from "../../../src/confinement/firewall";

const net = (cidr: string) => formatNetwork(parseCIDR(cidr));

describe("CIDRs", () => {
  test("IPv4 networks and hosts are normalised, host bits cleared", () => {
    expect(net("10.1.2.3/8")).toBe("10.0.0.0/8");
    expect(net("203.0.113.7")).toBe("203.0.113.7/32");
    expect(net(" 172.17.0.1/16 ")).toBe("172.17.0.0/16");
    expect(net("0.0.0.0/0")).toBe("0.0.0.0/0");
  });

  test("IPv6 in every spelling, embedded IPv4 included", () => {
    expect(net("fc00::/7")).toBe("fc00:0:0:0:0:0:0:0/7");
    expect(net("::1")).toBe("0:0:0:0:0:0:0:1/128");
    expect(net("2001:db8::8a2e:370:7334/64")).toBe("2001:db8:0:0:0:0:0:0/64");
    expect(net("::ffff:192.0.2.1")).toBe("0:0:0:0:0:ffff:c000:201/128");
    expect(net("1:2:3:4:5:6:7:8")).toBe("1:2:3:4:5:6:7:8/128");
  });

  test("anything else is refused with the entry named", () => {
    for (const bad of ["", "10.0.0.256", "10.0.0/8", "10.0.0.0/33", "fe80::/129", "1:2:3:4:5:6:7:8:9", "1::2::3", "example.com", "10.0.0.0/8/1", "10.0.0.0/-1", "::g"]) {
      expect(() => parseCIDR(bad), bad).toThrow(CIDRError);
    }
    expect(() => parseCIDRList("10.0.0.0/8, nope")).toThrow(/"nope"/);
    expect(parseCIDRList(" 10.0.0.1 ,, 2001:db8::1,")).toHaveLength(2);
    expect(parseCIDRList(undefined)).toEqual([]);
  });
});

describe("nameservers", () => {
  test("read from resolv.conf, scope suffixes dropped, junk ignored", () => {
    const conf = "# generated\nsearch example\nnameserver 10.255.255.53\nnameserver fe80::1%eth0\n nameserver   127.0.0.11\nnameserver bogus\noptions ndots:0\n";
    expect(nameserversOf(conf).map(formatNetwork)).toEqual(["10.255.255.53/32", "fe80:0:0:0:0:0:0:1/128", "127.0.0.11/32"]);
  });
});

const base = { apiPort: 8223, nameservers: [parseCIDR("10.255.255.53")], denied: [parseCIDR("203.0.113.7"), parseCIDR("2001:db8::/32")] };

/** The rules of one chain, in order. */
function chain(ruleset: string, name: string): string[] {
  const start = ruleset.indexOf(`\tchain ${name} {`);
  const end = ruleset.indexOf("\t}", start);
  return ruleset.slice(start, end).split("\n").slice(1).map((line) => line.trim()).filter(Boolean);
}

describe("the ruleset", () => {
  test("replaces only its own table, in one transaction", () => {
    const text = firewallRuleset({ ...base, egress: true });
    expect(text.split("\n").slice(1, 4)).toEqual(["table inet coderunner", "delete table inet coderunner", "table inet coderunner {"]);
    expect(text).not.toContain("flush ruleset");
  });

  test("inbound: loopback, replies and the API port; the rest dropped", () => {
    expect(chain(firewallRuleset({ ...base, egress: true }), "input")).toEqual([
      "type filter hook input priority filter; policy drop;",
      'iifname "lo" accept',
      "ct state established,related accept",
      "tcp dport 8223 accept",
      "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept",
    ]);
  });

  test("egress on: DNS to the resolvers only, then the host and private ranges refused, then the internet", () => {
    const text = firewallRuleset({ ...base, egress: true });
    const rules = chain(text, "output");
    const at = (rule: string) => rules.indexOf(rule);
    expect(at('oifname "lo" accept')).toBe(1);
    expect(at("ip daddr @nameservers_ipv4 udp dport 53 accept")).toBeLessThan(at("ip daddr @blocked_ipv4 jump refuse"));
    expect(at("ip daddr @denied_ipv4 jump refuse")).toBeLessThan(at("accept"));
    expect(at("ip daddr @blocked_ipv4 jump refuse")).toBeLessThan(at("accept"));
    expect(rules.at(-1)).toBe("accept");
    expect(text).toContain("elements = { 10.255.255.53/32 }");
    expect(text).toContain("elements = { 203.0.113.7/32 }");
    expect(text).toContain("elements = { 2001:db8:0:0:0:0:0:0/32 }");
    for (const range of ["169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4"]) {
      expect(text).toContain(range);
    }
    for (const range of ["0:0:0:0:0:0:0:1/128", "fc00:0:0:0:0:0:0:0/7", "fe80:0:0:0:0:0:0:0/10", "ff00:0:0:0:0:0:0:0/8"]) expect(text).toContain(range);
  });

  test("egress off: the resolvers refused even over loopback, then nothing leaves", () => {
    const rules = chain(firewallRuleset({ ...base, egress: false }), "output");
    expect(rules.slice(1, 4)).toEqual(["ip daddr @nameservers_ipv4 jump refuse", "ip6 daddr @nameservers_ipv6 jump refuse", 'oifname "lo" accept']);
    expect(rules.at(-1)).toBe("jump refuse");
    expect(rules).not.toContain("accept");
    expect(rules.some((rule) => rule.includes("dport 53 accept"))).toBe(false);
  });

  test("refusals are immediate: a TCP reset, else ICMP administratively prohibited", () => {
    expect(chain(firewallRuleset({ ...base, egress: true }), "refuse")).toEqual(["meta l4proto tcp reject with tcp reset", "reject with icmpx type admin-prohibited"]);
  });

  test("empty sets are declared without elements (nft refuses an empty list)", () => {
    const text = firewallRuleset({ apiPort: 8223, egress: true, nameservers: [], denied: [] });
    expect(text).not.toContain("elements = {  }");
    expect(text).toContain("\tset denied_ipv4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\tauto-merge\n\t}");
  });

  test("the API port must be a TCP port", () => {
    expect(() => firewallRuleset({ ...base, egress: true, apiPort: 0 })).toThrow(RangeError);
  });
});
