import { expect, test } from "bun:test";
import { join, relative, resolve } from "node:path";

const root = join(import.meta.dir, "../../..");

test("the SDK bundle holds the SDK's own modules only: the contract reaches it as types, never TypeBox or Elysia", async () => {
  const built = await Bun.build({
    entrypoints: [join(root, "src/client/index.ts"), join(root, "src/client/cloud.ts")],
    target: "node",
    format: "esm",
    splitting: true,
    metafile: true,
  });
  expect(built.success).toBe(true);
  // Input paths are relative to the working directory.
  const inputs = Object.keys(built.metafile!.inputs).map((path) => relative(root, resolve(path)));
  expect(inputs).toContain("src/client/client.ts");
  expect(inputs.filter((path) => !path.startsWith("src/client/"))).toEqual([]);
});
