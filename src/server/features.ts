import { runsAndFilesFeature } from "../tasks/feature";
import { browserFeature } from "../browser/feature";
import { mcpFeature } from "../mcp/feature";
import type { FeatureFactory } from "./feature";

/**
 * Features mounted by `coderunner serve`, in order. Each entry builds its routes and owns its own
 * resources; see `Feature`.
 */
export const FEATURES: FeatureFactory[] = [
  runsAndFilesFeature,
  browserFeature,
  mcpFeature,
];
