import assert from "node:assert/strict";
import { ConfigError } from "./env.ts";
import { DEFAULT_NEXUS_API_URL, parseNexusUrls } from "./nexus_url.ts";

Deno.test("parseNexusUrls: one URL or a comma list, normalized, in order, no repeats", () => {
  assert.deepEqual(parseNexusUrls(DEFAULT_NEXUS_API_URL), ["https://localhost:8553"]);
  assert.deepEqual(parseNexusUrls("https://a:1/, https://[::1]:2 ,https://b"), [
    "https://a:1",
    "https://[::1]:2",
    "https://b",
  ]);
  assert.deepEqual(parseNexusUrls("https://a:1,https://a:1/"), ["https://a:1"]);
});

Deno.test("parseNexusUrls: a bad entry is refused, naming it", () => {
  for (
    const [text, why] of [
      ["", /empty entry/],
      ["https://a:1,", /empty entry/],
      ["https://a:1,,https://b", /empty entry/],
      ["https://a:1,nope", /"nope" is not a URL/],
      ["https://a:1,http://b:2", /"http:\/\/b:2" must use https/],
    ] as const
  ) {
    assert.throws(() => parseNexusUrls(text), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /^SPIKE_NEXUS_API_URL=/);
      assert.match(e.message, why);
      return true;
    });
  }
});
