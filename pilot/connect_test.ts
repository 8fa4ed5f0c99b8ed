import assert from "node:assert/strict";
import { ApiResponseError } from "../lib/client/errors.ts";
import { parseSpiffeId } from "../lib/spiffe/id.ts";
import { explain } from "./connect.ts";
import { Exit } from "./exit.ts";

Deno.test("a 429 is worded as a rate limit on the identity, exit code 6", () => {
  const id = parseSpiffeId("spiffe://spike.ist/spike/pilot/role/recover");
  const e = explain(
    new ApiResponseError(429, "https://nexus/v1/store/secrets"),
    "https://nexus",
    id,
  );
  assert.equal(e.exitCode, Exit.unavailable);
  assert.equal(
    e.message,
    "Nexus is limiting the requests of spiffe://spike.ist/spike/pilot/role/recover; try again " +
      "in a few seconds",
  );
});
