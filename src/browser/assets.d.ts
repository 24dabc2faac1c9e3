// Mozilla Readability's source, imported `with { type: "text" }` so the binary embeds it and can
// evaluate it inside pages.
declare module "@mozilla/readability/Readability.js" {
  const text: string;
  export default text;
}
