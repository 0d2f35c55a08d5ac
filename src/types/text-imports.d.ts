// Files imported `with { type: "text" }` (the console's assets): their content as a string.
// Bun reads them so natively; tsup.config.ts and vitest.config.ts teach esbuild and Vite.
declare module "htmx.org/dist/htmx.min.js" {
  const text: string;
  export default text;
}
declare module "*/assets/console.js" {
  const text: string;
  export default text;
}
declare module "*/assets/console.css" {
  const text: string;
  export default text;
}
