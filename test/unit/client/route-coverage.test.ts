import { describe, expect, test } from "bun:test";
import { ROUTES } from "../../../src/contract/routes";
import { BrowserManager, BrowserSession } from "../../../src/client/browser";
import { SandboxClient } from "../../../src/client/client";
import { ROUTE_COVERAGE, type RouteCoverage } from "../../../src/client/route-coverage";

const { "POST /execute": _execute, ...withoutExecute } = ROUTE_COVERAGE;

// The type check bites: `tsc` fails if any of these stops being an error.
// @ts-expect-error: a route with no SDK method
const missing: RouteCoverage = withoutExecute;
// @ts-expect-error: a method the SDK does not have
const unknownMethod: RouteCoverage = { ...ROUTE_COVERAGE, "POST /execute": "SandboxClient.run" };
// @ts-expect-error: a route the contract does not have
const unknownRoute: RouteCoverage = { ...ROUTE_COVERAGE, "POST /execute/batch": "SandboxClient.execute" };

describe("the SDK's route coverage", () => {
  test("names a real method for every route of the contract, or says why the SDK leaves it out", () => {
    expect(Object.keys(ROUTE_COVERAGE).sort()).toEqual(Object.keys(ROUTES).sort());
    const owners = { SandboxClient, BrowserManager, BrowserSession } as Record<string, { prototype: object }>;
    for (const [route, answer] of Object.entries(ROUTE_COVERAGE)) {
      if (typeof answer !== "string") {
        expect({ route, why: answer.notInSDK.length > 0 }).toEqual({ route, why: true });
        continue;
      }
      const [owner, method] = answer.split(".") as [string, string];
      expect({ route, method: typeof (owners[owner]!.prototype as Record<string, unknown>)[method] }).toEqual({ route, method: "function" });
    }
    expect([missing, unknownMethod, unknownRoute].every(Boolean)).toBe(true);
  });
});
