import type { FeatureFactory } from "../feature";
import { browserFeature } from "./browser";
import { mcpFeature } from "./mcp";
import { runsAndFilesFeature } from "./runs-and-files";

/**
 * Features mounted by `coderunner serve`, in order. Each entry builds its routes and owns its own
 * resources; see `Feature`.
 */
export const FEATURES: FeatureFactory[] = [
  runsAndFilesFeature,
  browserFeature,
  mcpFeature,
];
