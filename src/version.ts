import pkg from "../package.json" with { type: "json" };

/** CodeRunner's version. `build.ts` bakes it into the compiled binary through the bundled package.json. */
export const VERSION: string = pkg.version;
