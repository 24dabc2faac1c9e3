import { readdirSync, readFileSync } from "node:fs";
import { cpuSeconds } from "../../src/kernels/proc-stats";

/** `root` and every live process under it (Linux /proc), each with its command name. */
export function processTree(root: number): { pid: number; name: string }[] {
  const children = new Map<number, { pid: number; name: string }[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(parent, [...(children.get(parent) ?? []), { pid: Number(entry), name }]);
    } catch {
      // The process ended while we looked.
    }
  }
  const tree = [{ pid: root, name: "root" }];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!.pid) ?? []));
  return tree;
}

/**
 * CPU seconds used so far by `root` and its live descendants (each with the children it has waited
 * for), by command name (`root` for `root` itself).
 */
export function treeCPUSeconds(root: number): Record<string, number> {
  const byName: Record<string, number> = {};
  for (const { pid, name } of processTree(root)) byName[name] = (byName[name] ?? 0) + (cpuSeconds(pid) ?? 0);
  return byName;
}
