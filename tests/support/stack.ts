/** Moved to `dev/stack/harness.ts`: the one stack harness of `deno task dev`, the tests and the bench. */
export * from "../../dev/stack/harness.ts";
