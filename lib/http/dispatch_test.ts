import assert from "node:assert/strict";
import { createServer } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { parseSpiffeId } from "../spiffe/id.ts";
import type { RouteSpec } from "../api/routes.ts";
import {
  type Completion,
  createDispatcher,
  defineRoute,
  type DurableAudit,
  JSON_HEADERS,
  type RouteRequest,
  runRoute,
} from "./dispatch.ts";

const SPEC: RouteSpec<"thing.do"> = {
  name: "thing.do",
  path: "/v1/thing",
  action: "",
  errorShape: {},
  errorKey: "err",
  lite: false,
  needsKey: "none",
  retrySafe: false,
};

/** Serves one dispatcher on loopback over plain HTTP (the peer is fixed) and POSTs to it. */
async function withDispatcher(
  audit: DurableAudit,
  fn: (
    post: () => Promise<{ status: number; body: unknown }>,
    acted: () => number,
    port: number,
  ) => Promise<void>,
  completions: Completion[] = [],
): Promise<void> {
  let acts = 0;
  const handler = createDispatcher<"thing.do", null>({
    routes: [SPEC],
    handlers: {
      "thing.do": defineRoute({
        read: () => Promise.resolve(null),
        rule: () => null,
        act: () => {
          acts++;
          return Promise.resolve({ json: { done: true } });
        },
      }),
    },
    guard: () => Promise.resolve(),
    audit,
    onComplete: (c) => completions.push(c),
  });
  const peer = parseSpiffeId("spiffe://spike.ist/workload/a");
  const server = createServer((req, res) => void handler(req, res, peer));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  try {
    await fn(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/v1/thing`, {
          method: "POST",
          body: "{}",
        });
        return { status: res.status, body: await res.json() };
      },
      () => acts,
      port,
    );
  } finally {
    await new Promise((r) => server.close(r));
  }
}

Deno.test("a durable audit sees the request before the route runs and the outcome before the answer", async () => {
  const seen: string[] = [];
  const completions: Completion[] = [];
  await withDispatcher({
    request: (c) => {
      seen.push(`request ${c.route} ${"status" in c}`);
      return Promise.resolve();
    },
    response: (c) => {
      seen.push(`response ${c.route} ${c.status}`);
      return Promise.resolve();
    },
  }, async (post, acted) => {
    assert.deepEqual(await post(), { status: 200, body: { done: true } });
    assert.equal(acted(), 1);
  }, completions);
  assert.deepEqual(seen, ["request thing.do false", "response thing.do 200"]);
  assert.equal(completions[0].auditFailed, undefined);
});

Deno.test("a request record that cannot be written refuses the request before the route runs", async () => {
  const completions: Completion[] = [];
  let responses = 0;
  await withDispatcher({
    request: () => Promise.reject(new Error("No space left on device")),
    response: () => {
      responses++;
      return Promise.resolve();
    },
  }, async (post, acted) => {
    assert.deepEqual(await post(), { status: 500, body: { err: "api_internal_error" } });
    assert.equal(acted(), 0, "the route ran without its audit record");
  }, completions);
  assert.equal(responses, 0);
  assert.equal(completions[0].status, 500);
  assert.equal(completions[0].auditFailed, "true");
});

Deno.test("a response record that cannot be written turns the answer into a 500", async () => {
  const completions: Completion[] = [];
  await withDispatcher({
    request: () => Promise.resolve(),
    response: () => Promise.reject(new Error("I/O error")),
  }, async (post, acted) => {
    assert.deepEqual(await post(), { status: 500, body: { err: "api_internal_error" } });
    assert.equal(acted(), 1);
  }, completions);
  assert.equal(completions[0].status, 500);
  assert.equal(completions[0].auditFailed, "true");
});

/** A request to {@link runRoute} from a fixed peer (the route ignores the rest). */
const routeRequest: RouteRequest<"thing.do"> = {
  route: SPEC,
  peer: parseSpiffeId("spiffe://example.org/caller"),
  headers: {},
  body: () => Promise.resolve(new Uint8Array()),
  json: () => Promise.resolve({}),
  note: () => {},
};

Deno.test("a route's early read starts while the guard decides and reaches act only when allowed", async () => {
  const events: string[] = [];
  let decide!: (allowed: boolean) => void;
  const guard = (_peer: unknown, _rule: null) =>
    new Promise<void>((resolve, reject) => {
      events.push("guard");
      decide = (allowed) => allowed ? resolve() : reject(new Error("refused"));
    });
  const route = defineRoute({
    read: () => Promise.resolve("input"),
    rule: () => null,
    early: (input: string) => {
      events.push(`early ${input}`);
      return Promise.resolve("early value");
    },
    act: async (_input: string, _request: unknown, early?: Promise<string>) => {
      events.push(`act ${await early}`);
      return { json: {} };
    },
  });
  const allowed = runRoute(route, guard, routeRequest);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(events, ["guard", "early input"], "the early read waits for nothing");
  decide(true);
  await allowed;
  assert.deepEqual(events, ["guard", "early input", "act early value"]);

  events.length = 0;
  const refused = runRoute(route, guard, routeRequest);
  await new Promise((r) => setTimeout(r, 0));
  decide(false);
  await assert.rejects(refused, /refused/);
  assert.deepEqual(events, ["guard", "early input"], "act never ran for a refused caller");
});

Deno.test("a failed early read fails the act that uses it, and is nobody's news when refused", async () => {
  const route = defineRoute({
    read: () => Promise.resolve(null),
    rule: () => null,
    early: () => Promise.reject(new Error("store down")),
    act: async (_input: null, _request: unknown, early?: Promise<never>) => {
      await early;
      return { json: {} };
    },
  });
  await assert.rejects(runRoute(route, () => Promise.resolve(), routeRequest), /store down/);
  // Refused: the rejected early read must not surface as an unhandled rejection (the test fails).
  await assert.rejects(
    runRoute(route, () => Promise.reject(new Error("refused")), routeRequest),
    /refused/,
  );
  await new Promise((r) => setTimeout(r, 10));
});

/** Sends one raw HTTP/1.1 request line (no client rewrites it) and returns the answer's text. */
function rawRequest(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(
        `POST ${target} HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`,
      );
    });
    let text = "";
    socket.on("data", (chunk) => text += chunk);
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

Deno.test("a request target that is not a URL path is a 400 with its audit record, and runs nothing", async () => {
  const completions: Completion[] = [];
  const seen: string[] = [];
  await withDispatcher({
    request: (c) => {
      seen.push(`request ${c.target}`);
      return Promise.resolve();
    },
    response: (c) => {
      seen.push(`response ${c.status}`);
      return Promise.resolve();
    },
  }, async (_post, acted, port) => {
    const answer = await rawRequest(port, "/\\host%/x?action=get");
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /"err":"api_bad_request"/);
    // The same route, by a target URL normalizes to it, is served.
    assert.match(await rawRequest(port, "/v1/x/../thing"), /^HTTP\/1\.1 200 /);
    assert.equal(acted(), 1);
  }, completions);
  assert.deepEqual(seen, ["request ", "response 400", "request /v1/thing", "response 200"]);
  assert.equal(completions[0].code, "api_bad_request");
});

Deno.test("an answer of encoded JSON goes out with the JSON headers, and its bytes are zeroed once sent", async () => {
  const encoded = new TextEncoder().encode('{"data":{"pass":"hunter2"}}');
  const handler = createDispatcher<"thing.do", null>({
    routes: [SPEC],
    handlers: {
      "thing.do": defineRoute({
        read: () => Promise.resolve(null),
        rule: () => null,
        act: () => Promise.resolve({ encoded }),
      }),
    },
    guard: () => Promise.resolve(),
  });
  const peer = parseSpiffeId("spiffe://spike.ist/workload/a");
  const server = createServer((req, res) => void handler(req, res, peer));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v1/thing`, { method: "POST", body: "{}" });
    for (const [name, value] of Object.entries(JSON_HEADERS)) {
      assert.equal(res.headers.get(name), value, name);
    }
    assert.deepEqual(await res.json(), { data: { pass: "hunter2" } });
    assert.equal(res.headers.get("content-length"), String(encoded.length));
    for (let i = 0; i < 50 && encoded.some((b) => b !== 0); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(encoded.every((b) => b === 0), "the answer's bytes are zeroed once sent");
  } finally {
    await new Promise((r) => server.close(r));
  }
});
