import { describe, expect, test } from "bun:test";
import { BOOT_CAPABILITIES, maskOf, missing, namesOf, parseCapabilities, SERVER_CAPABILITIES } from "../../../src/confinement/capabilities";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootAccount, BootError, checkBootCapabilities, extraUsersEntries, serverCommand, serverDropArgv, serverEnvironment } from "../../../src/confinement/boot";
import { confinedContainer, MIN_USER_PROCESSES, serverReserve, userProcessBudget } from "../../../src/confinement/container";
import { CHROMIUM_WRAPPER, sandboxAccount, SANDBOX_USER, SERVER_USER } from "../../../src/confinement/layout";
import { asUser, dropTo } from "../../../src/confinement/user-command";
import chromiumWrapper from "../../../image/chromium-as-sandbox-user.sh" with { type: "text" };
import dockerfile from "../../../Dockerfile" with { type: "text" };

const user = { uid: 1000, gid: 1000 };

describe("commands as the sandbox user", () => {
  test("setpriv changes uid and gid for good, clears groups and every capability", () => {
    expect(dropTo(user)).toEqual(["/usr/bin/setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "--inh-caps=-all", "--ambient-caps=-all", "--no-new-privs", "--"]);
    expect(asUser(user, ["/usr/bin/perl", "-e", "print 1", "--", "-rf"])).toEqual([...dropTo(user), "/usr/bin/perl", "-e", "print 1", "--", "-rf"]);
  });

  test("cwd and oom_score_adj are set after the switch by a prelude that never parses the arguments", () => {
    const argv = asUser(user, ["/bin/bash", "--norc"], { cwd: "/home/x/$(reboot) dir", oomScoreAdj: 1000 });
    expect(argv.slice(0, 8)).toEqual(dropTo(user));
    expect(argv.slice(8)).toEqual(["/bin/sh", "-c", 'echo 1000 >/proc/self/oom_score_adj; cd -- "$1" || exit 126; shift; exec "$@"', "sh", "/home/x/$(reboot) dir", "/bin/bash", "--norc"]);
    expect(() => asUser(user, ["true"], { oomScoreAdj: 1001 })).toThrow(RangeError);
  });

  test("a process budget is set by prlimit, soft and hard, before the switch", () => {
    const budget = { uid: 234567, gid: 234567, processes: 192 };
    expect(dropTo(budget)).toEqual(["/usr/bin/prlimit", "--nproc=192:192", "--", ...dropTo({ uid: 234567, gid: 234567 })]);
    expect(dropTo(sandboxAccount(234567, 192))).toEqual(["/usr/bin/prlimit", "--nproc=192:192", "--", "/usr/bin/nice", "-n", "19", "--", ...dropTo({ uid: 234567, gid: 234567 })]);
    expect(asUser(budget, ["/bin/bash"], { cwd: "/w" }).slice(0, 3)).toEqual(["/usr/bin/prlimit", "--nproc=192:192", "--"]);
    expect(() => dropTo({ ...budget, processes: 0 })).toThrow(RangeError);
  });

  test("the prelude really runs the command in cwd with its arguments intact", async () => {
    const argv = asUser(user, ["/bin/sh", "-c", 'printf "%s|" "$PWD" "$@"', "x", "a b", "$(id)"], { cwd: "/tmp" }).slice(8);
    const proc = Bun.spawn(argv, { stdout: "pipe" });
    expect(await new Response(proc.stdout).text()).toBe("/tmp|a b|$(id)|");
  });

  test("the Chromium wrapper drops to the same user with the same switches", () => {
    const switches = (user: { uid: number; gid: number; processes?: number }) =>
      dropTo(user).join(" ").replace("=4242:4242", '="$processes:$processes"').replace("--reuid=4242 --regid=4242", '--reuid="$uid" --regid="$uid"');
    expect(chromiumWrapper).toContain(`set -- ${switches({ uid: 4242, gid: 4242 })} "$@"`);
    const budget = switches({ ...sandboxAccount(4242, 4242) });
    expect(chromiumWrapper).toContain(`set -- ${budget.slice(0, budget.indexOf(" /usr/bin/setpriv"))} "$@"`);
    expect(chromiumWrapper).toContain(`HOME=${SANDBOX_USER.home}`);
    expect(dockerfile).toContain(CHROMIUM_WRAPPER);
  });

  test.skipIf(process.getuid?.() !== 0)("the Chromium wrapper runs Chromium as the sandbox uid within its budget, with a profile of its own", () => {
    const dir = mkdtempSync(join(tmpdir(), "chromium-wrapper-"));
    chmodSync(dir, 0o755); // the sandbox uid runs the fake Chromium from here
    try {
      const fake = join(dir, "chromium");
      writeFileSync(fake, '#!/bin/sh\nid -u; id -G; grep "^Max processes" /proc/self/limits | tr -s " "; echo "$@"; cut -d " " -f 19 /proc/$$/stat\n', { mode: 0o755 });
      const run = (env: Record<string, string>) => {
        const proc = Bun.spawnSync(["sh", "image/chromium-as-sandbox-user.sh", "--headless", "--user-data-dir=/server/private"], { env: { PATH: "/usr/bin:/bin", CODERUNNER_CHROMIUM: fake, ...env } });
        return { code: proc.exitCode, out: proc.stdout.toString().split("\n"), err: proc.stderr.toString() };
      };
      const budget = run({ CODERUNNER_SANDBOX_UID: "234567", CODERUNNER_USER_PROCESSES: "77" });
      expect(budget.out.slice(0, 3)).toEqual(["234567", "234567", "Max processes 77 77 processes "]);
      expect(budget.out[3]).toMatch(/^--headless --user-data-dir=\/tmp\/coderunner-chromium-\w+$/);
      expect(budget.out[4]).toBe("19");
      const plain = run({});
      expect(plain.out[0]).toBe("1000");
      expect(plain.out[2]).not.toContain(" 77 ");
      expect(plain.out[4]).toBe("0");
      expect(run({ CODERUNNER_SANDBOX_UID: "0" })).toMatchObject({ code: 2, err: expect.stringContaining("bad CODERUNNER_SANDBOX_UID") });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the image creates both users with the ids the code uses", () => {
    expect(dockerfile).toContain(`--uid ${SANDBOX_USER.uid} --user-group --shell /bin/bash ${SANDBOX_USER.name}`);
    expect(dockerfile).toContain(`groupadd --system --gid ${SERVER_USER.gid} ${SERVER_USER.name}`);
    expect(dockerfile).toContain(`useradd --system --uid ${SERVER_USER.uid} --gid ${SERVER_USER.gid}`);
  });
});

describe("the boot's hand-over to the server", () => {
  test("exactly KILL, SETGID and SETUID, as ambient and bounding set, no root and no new privileges", () => {
    expect(serverDropArgv()).toEqual([
      "/usr/bin/setpriv",
      "--reuid=990",
      "--regid=990",
      "--clear-groups",
      "--inh-caps=-all,+kill,+setgid,+setuid",
      "--ambient-caps=-all,+kill,+setgid,+setuid",
      "--bounding-set=-all,+kill,+setgid,+setuid",
      "--securebits=+noroot,+noroot_locked",
      "--no-new-privs",
      "--",
    ]);
  });

  test("tini comes first only when the boot is PID 1", () => {
    expect(serverCommand("/usr/local/bin/coderunner", 1).slice(-4)).toEqual(["/usr/bin/tini", "--", "/usr/local/bin/coderunner", "serve"]);
    expect(serverCommand("/usr/local/bin/coderunner", 7).slice(-3)).toEqual(["--", "/usr/local/bin/coderunner", "serve"]);
  });

  test("the server gets a home and temp directory of its own, the rest of the environment kept", () => {
    const env = serverEnvironment({ HOME: "/home/coderunner", CODERUNNER_API_KEY: "k", PATH: "/bin" });
    expect(env).toMatchObject({ HOME: "/run/coderunner/server/home", TMPDIR: "/run/coderunner/server/tmp", USER: "coderunner-server", CODERUNNER_API_KEY: "k", PATH: "/bin" });
    expect(env).toMatchObject({ CODERUNNER_SANDBOX_UID: "1000", CODERUNNER_USER_PROCESSES: "0" });
    expect(serverEnvironment({ CODERUNNER_SANDBOX_UID: "x" }, sandboxAccount(234567, 192))).toMatchObject({ CODERUNNER_SANDBOX_UID: "234567", CODERUNNER_USER_PROCESSES: "192" });
  });

  test("the sandbox user: the host's uid under the image's name and home, with its budget", () => {
    expect(bootAccount({ sandboxUid: 1000, userProcesses: 0 })).toEqual({ name: "coderunner", uid: 1000, gid: 1000, home: "/home/coderunner" });
    expect(bootAccount({ sandboxUid: 234567, userProcesses: 192 })).toEqual({ name: "coderunner", uid: 234567, gid: 234567, home: "/home/coderunner", processes: 192, niceness: 19 });
    expect(() => bootAccount({ sandboxUid: 65534, userProcesses: 0 })).toThrow(BootError);
    expect(() => bootAccount({ sandboxUid: 2 ** 31, userProcesses: 0 })).toThrow(BootError);
    expect(extraUsersEntries(sandboxAccount(234567))).toEqual({
      passwd: "coderunner:x:234567:234567:CodeRunner sandbox user:/home/coderunner:/bin/bash\n",
      group: "coderunner:x:234567:\n",
    });
  });

  test("a boot without its capabilities says which are missing and how to create the container", () => {
    expect(() => checkBootCapabilities(maskOf(BOOT_CAPABILITIES))).not.toThrow();
    expect(() => checkBootCapabilities(maskOf(["SETUID", "SETGID"]))).toThrow(/CHOWN, KILL, NET_ADMIN, SETPCAP are missing: create the container with confinedContainer\(\)/);
  });
});

describe("capabilities", () => {
  test("sets are read from /proc status text", () => {
    const status = "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t00000000000000e0\nCapEff:\t00000000000000e0\nCapBnd:\t00000000000000e0\nCapAmb:\t00000000000000e0\n";
    const sets = parseCapabilities(status);
    expect(sets.effective).toBe(maskOf(SERVER_CAPABILITIES));
    expect(namesOf(sets.bounding)).toEqual(["KILL", "SETGID", "SETUID"]);
    expect(namesOf(1n << 40n)).toEqual(["cap_40"]);
    expect(missing(sets.effective, ["KILL", "NET_ADMIN"])).toEqual(["NET_ADMIN"]);
    expect(() => parseCapabilities("Name: x")).toThrow(/CapInh/);
  });
});

describe("the host's contract", () => {
  test("root at start, every capability dropped but the boot's, no new privileges", () => {
    const spec = confinedContainer({ egress: false, denyCIDRs: ["203.0.113.7", "2001:db8::1/48"] });
    expect(spec.User).toBe("0");
    expect(spec.Env).toEqual(["CODERUNNER_CONFINE=1", "CODERUNNER_EGRESS=off", "CODERUNNER_DENY_CIDRS=203.0.113.7/32,2001:db8:0:0:0:0:0:0/48"]);
    expect(spec.HostConfig).toEqual({ CapDrop: ["ALL"], CapAdd: ["CHOWN", "KILL", "NET_ADMIN", "SETGID", "SETPCAP", "SETUID"], SecurityOpt: ["no-new-privileges"] });
  });

  test("a read-only root filesystem comes with a tmpfs for the server's state", () => {
    const spec = confinedContainer({ egress: true, denyCIDRs: [], readonlyRootfs: true });
    expect(spec.Env).toContain("CODERUNNER_EGRESS=on");
    expect(spec.HostConfig.ReadonlyRootfs).toBe(true);
    expect(spec.HostConfig.Tmpfs?.["/run"]).toContain("mode=0755");
  });

  test("a sandbox uid and process budget reach the boot through the environment", () => {
    const spec = confinedContainer({ egress: true, denyCIDRs: [], sandboxUid: 234567, userProcesses: 192 });
    expect(spec.Env).toEqual(["CODERUNNER_CONFINE=1", "CODERUNNER_EGRESS=on", "CODERUNNER_DENY_CIDRS=", "CODERUNNER_SANDBOX_UID=234567", "CODERUNNER_USER_PROCESSES=192"]);
    expect(() => confinedContainer({ egress: true, denyCIDRs: [], sandboxUid: 990 })).toThrow(RangeError);
    expect(() => confinedContainer({ egress: true, denyCIDRs: [], userProcesses: 0 })).toThrow(RangeError);
  });

  test("code's budget is the pids limit less the server's reserve, which grows with the Engine's CPUs past 8", () => {
    expect(userProcessBudget(256, 2)).toBe(192);
    expect(userProcessBudget(256, 8)).toBe(192);
    expect(serverReserve(64)).toBe(120);
    expect(userProcessBudget(1024, 64)).toBe(904);
    expect(userProcessBudget(64 + MIN_USER_PROCESSES, 1)).toBe(MIN_USER_PROCESSES);
    expect(() => userProcessBudget(100, 2)).toThrow(/leaves code 36 processes after the 64 kept.*raise the limit to 128/);
  });

  test("a bad CIDR fails on the host, not at the sandbox's boot", () => {
    expect(() => confinedContainer({ egress: true, denyCIDRs: ["10.0.0.0/40"] })).toThrow(/at most 32/);
  });
});
