/** Moved to `dev/stack/agent.ts`: the one stack harness of `deno task dev`, the tests and the bench. */
export * from "../../dev/stack/agent.ts";
