import assert from "node:assert/strict";
import type { Completion } from "../lib/http/dispatch.ts";
import { keeperAuditTrail } from "./audit.ts";
import { NO_SHARE } from "./routes.ts";

const completion = (route: string, extra: Partial<Completion> = {}): Completion => ({
  trail: crypto.randomUUID(),
  caller: "spiffe://spike.ist/spike/nexus",
  method: "POST",
  target: "/v1/store/shard",
  action: "",
  route,
  status: 200,
  durationMs: 1,
  ...extra,
});

Deno.test("an empty Keeper audits 'no share yet' once, not at every poll", () => {
  const lines: string[] = [];
  const audit = keeperAuditTrail((line) => lines.push(line));
  const empty = () => completion("keeper.shard", { status: 400, share: NO_SHARE });
  for (let i = 0; i < 5; i++) audit(empty());
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0]).share, NO_SHARE);
  assert.equal(JSON.parse(lines[0]).code, undefined, "no error code");
  audit(completion("keeper.contribute"));
  audit(completion("keeper.shard"));
  assert.equal(lines.length, 3, "every other answer is audited");
  audit(empty()); // empty again (a restart of the share): said once more
  audit(empty());
  assert.equal(lines.length, 4);
  audit(completion("keeper.shard", { status: 401, code: "access_unauthorized" }));
  audit(completion("keeper.shard", { status: 401, code: "access_unauthorized" }));
  assert.equal(lines.length, 6, "refusals are never folded");
});
