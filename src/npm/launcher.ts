/**
 * The `coderunner` command of the npm package (`bin/coderunner.js`, compiled for Node by
 * `npm-packages.ts`): runs the binary of this machine's platform package with the same arguments,
 * terminal and exit status. `CODERUNNER_BIN` names another binary.
 */
import { spawnSync } from "node:child_process";
import { installedBinary, platformPackage } from "../client/installed-binary";

const binary = process.env.CODERUNNER_BIN || (await installedBinary());
if (!binary) {
  console.error(
    `coderunner: the binary for ${process.platform}-${process.arch} is not installed (npm package ${platformPackage()}). ` +
      "Reinstall without --no-optional/--omit=optional, or download it from the release page and set CODERUNNER_BIN to its path.",
  );
  process.exit(1);
}
const run = spawnSync(binary, process.argv.slice(2), { stdio: "inherit" });
if (run.error) {
  console.error(`coderunner: cannot run ${binary}: ${run.error.message}`);
  process.exit(1);
}
if (run.signal) process.kill(process.pid, run.signal);
process.exit(run.status ?? 1);
