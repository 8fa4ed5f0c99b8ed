import assert from "node:assert/strict";
import { ApiError } from "./errors.ts";
import { MAX_PATH_LENGTH, validateSecretPath } from "./secrets.ts";

const refused = (path: string) => () =>
  assert.throws(() => validateSecretPath(path), (e) => e instanceof ApiError && e.status === 400);

Deno.test("secret paths: upstream's characters, 1..500 of them", () => {
  for (const ok of ["a", "tenants/demo/db", "a.b-c_d/(x)?+*|[]{}\\", "x".repeat(MAX_PATH_LENGTH)]) {
    validateSecretPath(ok);
  }
  for (const bad of ["", "has space", "a^b", "a$", "é", "x".repeat(MAX_PATH_LENGTH + 1)]) {
    refused(bad)();
  }
});

Deno.test("secret paths: no empty segment, so one name is one secret", () => {
  for (const bad of ["/a/b", "a/b/", "a//b", "/", "//"]) refused(bad)();
});
