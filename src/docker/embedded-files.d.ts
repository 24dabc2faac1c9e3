// Image files imported `with { type: "text" }`: embedded in the binary as strings.
declare module "*Dockerfile" {
  const text: string;
  export default text;
}
declare module "*.txt" {
  const text: string;
  export default text;
}
declare module "*.sh" {
  const text: string;
  export default text;
}
declare module "*.py" {
  const text: string;
  export default text;
}
