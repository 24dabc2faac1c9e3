/**
 * .ci/deps on a bare Debian 12, against the REAL Docker Engine: a throwaway container from
 * debian:bookworm-slim (a minbase system: no python3) with this checkout's .ci/deps mounted read-only
 * runs `--check` (fails, naming what is missing), `--packages` (apt-get from Debian's mirror), then
 * `--check` again (passes). So every package in its NEEDS table exists and really gives its probe, and
 * the probes really look. Never pulls: skips without an Engine or the base image (under CI, .ci/deps
 * provides both, so there it fails instead).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { DockerClient } from "../../src/docker/docker-client";
import { readNeeds } from "../helpers/ci-needs";

const ROOT = join(import.meta.dir, "../..");
const BASE = "debian:bookworm-slim";
const TEST_LABEL = "org.coderunner.test";
/**
 * How long the container may take. apt-get update + install usually take two to four minutes (most
 * of it dpkg unpacking and byte-compiling ~340 packages); this leaves room for a slow, shared machine.
 */
const RUN_TIMEOUT_MS = 360_000;

const docker = new DockerClient();
const engineUp = await docker.ping();
const baseImage = engineUp && (await docker.inspectImage(BASE)) !== undefined;
if (!baseImage && process.env.CI) {
  throw new Error(engineUp ? `No ${BASE} image; under CI, .ci/deps builds it offline.` : "No Docker Engine answers; under CI, .ci/deps starts one.");
}

/** Each mode runs in turn, its output (stderr folded in, in order) followed by a marker line. */
const SCRIPT = `
step() { local name=$1; shift; "$@" 2>&1; echo "::step $name exit=$?"; }
step check-before bash /ci/deps --check
step packages bash /ci/deps --packages
step check-after bash /ci/deps --check
`;

interface Step {
  exit: number;
  output: string;
}

/** Runs SCRIPT in a fresh bare container (always removed) and returns each step's exit code and output. */
async function runInBareDebian(): Promise<Record<string, Step>> {
  const { Id } = await docker.createContainer(`coderunner-ci-deps-${process.pid}`, {
    Image: BASE,
    Cmd: ["bash", "-c", SCRIPT],
    Labels: { [TEST_LABEL]: String(process.pid) },
    HostConfig: { Binds: [`${join(ROOT, ".ci/deps")}:/ci/deps:ro`] },
  });
  try {
    await docker.startContainer(Id);
    await docker.waitContainer(Id, { signal: AbortSignal.timeout(RUN_TIMEOUT_MS) });
    let output = "";
    for await (const piece of docker.logs(Id, { tty: false })) output += piece.text;
    const steps: Record<string, Step> = {};
    let section: string[] = [];
    for (const line of output.split("\n")) {
      const marker = /^::step (\S+) exit=(\d+)$/.exec(line);
      if (!marker) section.push(line);
      else {
        steps[marker[1]!] = { exit: Number(marker[2]), output: section.join("\n") };
        section = [];
      }
    }
    return steps;
  } finally {
    await docker.removeContainer(Id, { force: true });
  }
}

describe.skipIf(!baseImage)(`.ci/deps on a bare ${BASE}`, () => {
  const needs = readNeeds(ROOT);
  let run: Promise<Record<string, Step>> | undefined;
  const steps = () => (run ??= runInBareDebian());

  afterAll(async () => {
    for (const container of await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${process.pid}`] } })) {
      await docker.removeContainer(container.Id, { force: true });
    }
  });

  test(
    "--check fails there, listing every package whose probe does not hold, and only those",
    async () => {
      const before = (await steps())["check-before"];
      expect(before?.exit).toBe(1);
      const listed = before!.output.split("\n").flatMap((line) => /^ {2}(\S+) (\S+)$/.exec(line)?.slice(1, 3).join(" ") ?? []);
      // No python3 in minbase: every py: probe fails, matplotlib's included.
      const pythonLines = needs.lines.filter(({ probe }) => probe.startsWith("py:")).map(({ pkg, probe }) => `${pkg} ${probe}`);
      expect(listed).toEqual(expect.arrayContaining([...pythonLines, "chromium cmd:chromium", "docker.io cmd:dockerd"]));
      // Essential packages are in every Debian: their probes hold, so they are not listed.
      expect(listed).not.toContain("tar cmd:tar");
      expect(listed).not.toContain("util-linux cmd:unshare");
    },
    RUN_TIMEOUT_MS + 30_000,
  );

  test(
    "--packages installs what the table promises: --check passes afterwards",
    async () => {
      const { packages, "check-after": after } = await steps();
      expect(packages).toEqual({ exit: 0, output: expect.stringContaining("Installing") });
      expect(after).toEqual({ exit: 0, output: "" });
    },
    RUN_TIMEOUT_MS + 30_000,
  );
});
