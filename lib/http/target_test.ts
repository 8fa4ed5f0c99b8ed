import assert from "node:assert/strict";
import { requestTarget } from "./target.ts";

/** What `URL` makes of a target (or that it refuses it): the reference the short way must agree with. */
function byUrl(raw: string) {
  try {
    const url = new URL(raw, "https://nexus.invalid");
    return { pathname: url.pathname, action: url.searchParams.get("action") ?? "" };
  } catch (e) {
    return { refused: e instanceof TypeError };
  }
}

function ours(raw: string) {
  try {
    return requestTarget(raw);
  } catch (e) {
    return { refused: e instanceof TypeError };
  }
}

Deno.test("request targets read as URL reads them", () => {
  const targets = [
    "/v1/store/secrets?action=get",
    "/v1/store/secrets",
    "/v1/store/secrets/",
    "/v1/store/secrets?",
    "/v1/store/secrets?action=",
    "/v1/store/secrets?action=get&action=put",
    "/v1/store/secrets?x=1&action=list",
    "/v1/store/secrets?action=g%65t",
    "/v1/store/secrets?action=a+b",
    "/v1/store/secrets?action=get#frag",
    "/v1/store/secrets#?action=get",
    "/v1/store/../store/secrets?action=get",
    "/v1/store/./secrets?action=get",
    "/v1/store/%2e%2e/secrets?action=get",
    "/v1/store/sec%72ets?action=get",
    "//v1/store/secrets?action=get",
    "/v1//store/secrets?action=get",
    "/v1/store/secrets\\x?action=get",
    "/v1/st ore?action=get",
    "v1/store/secrets?action=get",
    "/",
    "",
    "?action=get",
    "/v1/ünï?action=get",
    "/v1/store/secrets?action=get%00",
    "/v1/store/secrets?%61ction=get",
    "/\\host%/x?action=get",
  ];
  for (const raw of targets) assert.deepEqual(ours(raw), byUrl(raw), raw);
});

Deno.test("request targets read as URL reads them: random targets", () => {
  const alphabet = "/?#&=%.+ -_aZ09\\é";
  for (let i = 0; i < 5000; i++) {
    let raw = "/";
    const n = Math.floor(Math.random() * 24);
    for (let j = 0; j < n; j++) raw += alphabet[Math.floor(Math.random() * alphabet.length)];
    assert.deepEqual(ours(raw), byUrl(raw), raw);
  }
});
