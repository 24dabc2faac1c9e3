// Embedded in the compiled binary as text: Readability runs inside the page, on the live DOM.
import source from "@mozilla/readability/Readability.js" with { type: "text" };

/** Source of Mozilla Readability; evaluated in a page it declares `function Readability(doc, options)`. */
export const READABILITY_SOURCE: string = source;
