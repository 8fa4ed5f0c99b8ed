/** Moved to `dev/stack/process.ts`: the one stack harness of `deno task dev`, the tests and the bench. */
export * from "../../dev/stack/process.ts";
