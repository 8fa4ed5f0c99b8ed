import assert from "node:assert/strict";
import { ApiResponseError, isTransient } from "../client/errors.ts";
import { toTransportError, TransportError } from "./errors.ts";

function coded(code: string, message = `${code} happened`): Error {
  return Object.assign(new Error(message), { code });
}

Deno.test("transport errors are classified by code, keeping the cause and its message", () => {
  const cause = coded("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1");
  const e = toTransportError(cause);
  assert.equal(e.kind, "refused");
  assert.equal(e.cause, cause);
  assert.equal(e.message, "connect ECONNREFUSED 127.0.0.1:1");
  assert.equal(toTransportError(coded("ECONNRESET")).kind, "reset");
  assert.equal(toTransportError(coded("EPIPE")).kind, "reset");
  assert.equal(toTransportError(coded("ENOTFOUND")).kind, "unreachable");
  assert.equal(toTransportError(coded("ETIMEDOUT")).kind, "timeout");
  assert.equal(toTransportError(coded("ERR_SSL_WRONG_VERSION_NUMBER")).kind, "tls");
  assert.equal(toTransportError(new Error("socket hang up closed")).kind, "other");
  assert.equal(toTransportError("thrown text").message, "thrown text");
  const already = new TransportError("unauthorized", new Error("x"));
  assert.equal(toTransportError(already), already);
});

Deno.test("isTransient: 503 and broken connections, never refusals or timeouts", () => {
  assert.ok(isTransient(new ApiResponseError(503, "u")));
  assert.ok(isTransient(toTransportError(coded("ECONNREFUSED"))));
  assert.ok(isTransient(toTransportError(coded("ECONNRESET"))));
  assert.ok(!isTransient(new ApiResponseError(400, "u")));
  assert.ok(!isTransient(new ApiResponseError(401, "u")));
  assert.ok(!isTransient(new TransportError("unauthorized", undefined, "bad id")));
  assert.ok(!isTransient(new TransportError("timeout", undefined, "slow")));
  // Only the type decides, not the words.
  assert.ok(!isTransient(new Error("ECONNREFUSED socket hang up")));
});
