/** Moved to `dev/stack/postgres.ts`: shared by the tests and the bench. */
export * from "../../dev/stack/postgres.ts";
