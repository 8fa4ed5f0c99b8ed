/** Moved to `dev/stack/clients.ts`: the one stack harness of `deno task dev`, the tests and the bench. */
export * from "../../dev/stack/clients.ts";
