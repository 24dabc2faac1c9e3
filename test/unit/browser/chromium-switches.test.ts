import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, UNUSED_UI_FEATURES } from "../../../src/browser/browser-manager";

/** The `--disable-features` switch's features, from the last one in `args` (the one Chromium keeps). */
function disabledFeatures(args: string[]): string[] {
  const last = args.findLast((arg) => arg.startsWith("--disable-features="));
  return last ? last.slice("--disable-features=".length).split(",") : [];
}

test("our --disable-features keeps every feature playwright-core turns off, since Chromium keeps only the last such switch", async () => {
  // A stand-in Chromium that writes down the switches it was started with and exits.
  const folder = mkdtempSync(join(tmpdir(), "chromium-switches-"));
  try {
    const seen = join(folder, "args");
    const executable = join(folder, "chromium");
    writeFileSync(executable, `#!/bin/sh\nprintf '%s\\n' "$@" > '${seen}'\nexit 1\n`);
    chmodSync(executable, 0o755);
    await chromium.launch({ executablePath: executable, args: CHROMIUM_ARGS, timeout: 10_000 }).then(
      (browser) => browser.close(),
      () => undefined,
    );
    const args = readFileSync(seen, "utf8").trim().split("\n");
    const playwrights = disabledFeatures(args.slice(0, args.indexOf(CHROMIUM_ARGS[0]!)));
    const kept = disabledFeatures(args);
    expect(playwrights.length).toBeGreaterThan(0);
    expect(kept).toEqual(expect.arrayContaining(playwrights));
    expect(kept).toEqual(expect.arrayContaining(UNUSED_UI_FEATURES));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
