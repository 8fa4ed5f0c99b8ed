import assert from "node:assert/strict";
import { storeFault } from "./faults.ts";

Deno.test("store faults are named from each backend's words", () => {
  assert.equal(storeFault(new TypeError("database or disk is full"))?.fault, "disk full");
  assert.equal(
    storeFault(Object.assign(new Error("write failed"), { code: "ENOSPC" }))?.fault,
    "disk full",
  );
  assert.equal(storeFault(new Error("attempt to write a readonly database"))?.fault, "read-only");
  assert.equal(storeFault(new Error("Read-only file system (os error 30)"))?.fault, "read-only");
  assert.equal(storeFault(new Error("unable to open database file"))?.fault, "folder missing");
  assert.equal(storeFault(new Error("bad request")), undefined);
  assert.equal(storeFault("not an error"), undefined);
});
