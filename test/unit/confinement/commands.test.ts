import { describe, expect, test } from "bun:test";
import { BOOT_CAPABILITIES, maskOf, missing, namesOf, parseCapabilities, SERVER_CAPABILITIES } from "../../../src/confinement/capabilities";
import { checkBootCapabilities, serverCommand, serverDropArgv, serverEnvironment } from "../../../src/confinement/boot";
import { confinedContainer } from "../../../src/confinement/container";
import { CHROMIUM_WRAPPER, SANDBOX_USER, SERVER_USER } from "../../../src/confinement/layout";
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

  test("the prelude really runs the command in cwd with its arguments intact", async () => {
    const argv = asUser(user, ["/bin/sh", "-c", 'printf "%s|" "$PWD" "$@"', "x", "a b", "$(id)"], { cwd: "/tmp" }).slice(8);
    const proc = Bun.spawn(argv, { stdout: "pipe" });
    expect(await new Response(proc.stdout).text()).toBe("/tmp|a b|$(id)|");
  });

  test("the Chromium wrapper drops to the same user with the same switches", () => {
    expect(chromiumWrapper).toContain(`exec ${dropTo(SANDBOX_USER).join(" ")} /bin/sh -c`);
    expect(chromiumWrapper).toContain(`HOME=${SANDBOX_USER.home}`);
    expect(dockerfile).toContain(CHROMIUM_WRAPPER);
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

  test("a bad CIDR fails on the host, not at the sandbox's boot", () => {
    expect(() => confinedContainer({ egress: true, denyCIDRs: ["10.0.0.0/40"] })).toThrow(/at most 32/);
  });
});
