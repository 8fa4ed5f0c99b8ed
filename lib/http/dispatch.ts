/**
 * The request pipeline shared by Nexus and Keeper, following upstream's
 * single handler: non-POST is a 400, then the exact path and `action` pick a
 * route, then an optional gate (Nexus answers 503 while it has no root key);
 * an unknown route is a 400. Every route is `read → access rule → act`, and
 * this pipeline runs the guard on the rule between the two itself, so no
 * route can skip it (upstream's `ReadParseAndGuard` fixes the order the same
 * way); a route's early read may go to the store beside the guard's, but
 * only `act` sees it, once the guard allows ({@link Route}). A thrown
 * {@link ApiError} becomes its code in the route's error body, anything
 * else a 500 that reveals nothing: that mapping is {@link errorReply},
 * the one place errors become answers. Every request ends with one completion
 * record. With a durable audit ({@link DurableAudit}) the request is recorded
 * before anything else runs and its outcome before the answer leaves; a
 * record that cannot be written refuses the request (500), failing closed.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { ApiError, badRequest, internalError, RateLimitedError } from "../api/errors.ts";
import { type JsonObject, parseJsonObject } from "../api/json.ts";
import { findRoute, type RouteSpec } from "../api/routes.ts";
import type { SpiffeId } from "../spiffe/id.ts";
import type { MtlsHandler } from "../tls/server.ts";
import { DEFAULT_MAX_BODY_BYTES, readBody } from "./body.ts";
import { type RequestTarget, requestTarget } from "./target.ts";

/** Headers on every JSON answer, as upstream sends them. */
export const JSON_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "application/json",
  "cache-control": "no-store, no-cache, must-revalidate, private",
  "pragma": "no-cache",
  "expires": "0",
  "x-content-type-options": "nosniff",
};

/**
 * What a route answers: a value to send as JSON, JSON already encoded
 * (`encoded`: sent with the same headers, and zeroed once sent, for answers
 * that carry secret values), or other bytes.
 */
export type Reply =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | { status?: number; encoded: Uint8Array; headers?: Record<string, string> }
  | { status?: number; bytes: Uint8Array; contentType: string; headers?: Record<string, string> };

/** One request, as a route sees it. */
export interface RouteRequest<Name extends string> {
  readonly route: RouteSpec<Name>;
  /** The caller's verified SPIFFE ID. */
  readonly peer: SpiffeId;
  readonly headers: IncomingHttpHeaders;
  /** The body, read once, within the size limit (else a 400). */
  body(): Promise<Uint8Array>;
  /** The body as one JSON object (else a 400). */
  json(): Promise<JsonObject>;
  /**
   * Adds a field to the request's completion record (e.g. `path`, the secret
   * path); fields the pipeline sets cannot be overwritten. Never a value.
   */
  note(field: string, value: string | number): void;
}

/**
 * A route's implementation, in three steps the pipeline runs in order:
 * `read` parses what the rule needs (shape errors are 400s), `rule` names
 * what the caller must be allowed (the pipeline's guard decides, 401 when
 * not), and only then `act` validates the rest and does the work.
 *
 * A route may also name an `early` read: the store read its `act` will
 * start with, begun at the moment the guard begins deciding, so that the
 * guard's own reads (the policies) and this one reach the store together
 * in one round trip. It must only read. Its result reaches `act` once the
 * guard has allowed the caller; for a refused caller it is dropped unseen.
 */
export interface Route<Name extends string, Rule, Input = unknown, Early = never> {
  read(request: RouteRequest<Name>): Promise<Input>;
  rule(input: Input, request: RouteRequest<Name>): Rule;
  /** The read `act` starts with, begun beside the guard's (`undefined`: none this time). */
  early?(input: Input): Promise<Early> | undefined;
  /** `early` is the promise {@link Route.early} returned, when it did. */
  act(input: Input, request: RouteRequest<Name>, early?: Promise<Early>): Promise<Reply>;
}

/** Builds a {@link Route}, inferring its input type from `read`. */
export function defineRoute<Name extends string, Rule, Input, Early = never>(
  route: Route<Name, Rule, Input, Early>,
): Route<Name, Rule, Input, Early> {
  return route;
}

/** Decides a route's rule for a caller: resolves when allowed, throws (a 401) when not. */
export type Guard<Rule> = (peer: SpiffeId, rule: Rule) => Promise<void>;

/**
 * Runs one route: read, guard the rule, act. The only way a route is run.
 * The route's early read starts right after the guard does, in the same
 * turn (see {@link Route}); `act` runs only once the guard allows.
 */
export async function runRoute<Name extends string, Rule, Input, Early>(
  route: Route<Name, Rule, Input, Early>,
  guard: Guard<Rule>,
  request: RouteRequest<Name>,
): Promise<Reply> {
  const input = await route.read(request);
  const allowed = guard(request.peer, route.rule(input, request));
  const early = route.early?.(input);
  // Refused: the early read is dropped, and its failure is nobody's news. Allowed: act awaits it.
  early?.catch(() => {});
  await allowed;
  return await route.act(input, request, early);
}

/** The record of one finished request (the audit line). */
export interface Completion {
  trail: string;
  caller: string;
  method: string;
  /** The URL path requested. */
  target: string;
  action: string;
  route: string | null;
  status: number;
  code?: string;
  durationMs: number;
  [field: string]: string | number | null | undefined;
}

/**
 * An audit trail that must hold every request, or the request is refused:
 * `request` runs before the route (a throw: nothing is done, 500), `response`
 * before the answer is sent (a throw: the answer becomes a 500).
 */
export interface DurableAudit {
  /** The request as it arrived: the completion record without status, code or duration. */
  request(arrival: Readonly<Omit<Completion, "status" | "durationMs">>): Promise<void>;
  response(completion: Readonly<Completion>): Promise<void>;
}

/** Options for {@link createDispatcher}. */
export interface DispatcherOptions<Name extends string, Rule> {
  routes: readonly RouteSpec<Name>[];
  /** One route per name: the type makes a route without an implementation a compile error. */
  // deno-lint-ignore no-explicit-any
  handlers: { readonly [K in Name]: Route<Name, Rule, any, any> };
  /** Decides every route's access rule, between its read and its act. */
  guard: Guard<Rule>;
  /**
   * Runs after the method check and the route lookup (`undefined`: no such
   * route) and before the route; a returned error is the answer.
   */
  gate?: (route: RouteSpec<Name> | undefined) => ApiError | undefined;
  /**
   * Rate limits: after the gate and before the body is read, the seconds `peer` must wait
   * before `route` is served to it again (0 or undefined: serve it now).
   */
  limit?: (peer: SpiffeId, route: RouteSpec<Name>) => number | undefined;
  maxBodyBytes?: number;
  /** Records every request, failing closed (see {@link DurableAudit}). */
  audit?: DurableAudit;
  /** Called once per request when its answer is sent. */
  onComplete?: (completion: Completion) => void;
  /** Called with unexpected failures (never shown to the caller). */
  onError?: (error: unknown, completion: Completion) => void;
}

function errorBody(spec: RouteSpec | undefined, code: string): Record<string, unknown> {
  if (!spec) return { err: code };
  return { ...spec.errorShape, [spec.errorKey ?? "err"]: code };
}

/**
 * What a failure answers: an {@link ApiError} its status and code, anything
 * else a 500 (`unexpected` is then true, for the error log). The one place
 * errors are mapped to answers.
 */
export function errorReply(
  spec: RouteSpec | undefined,
  e: unknown,
): { reply: Reply; code: string; unexpected: boolean } {
  const unexpected = !(e instanceof ApiError);
  const error = e instanceof ApiError ? e : internalError();
  const headers = e instanceof RateLimitedError
    ? { "retry-after": String(e.retryAfterSeconds) }
    : undefined;
  return {
    reply: { status: error.status, json: errorBody(spec, error.code), headers },
    code: error.code,
    unexpected,
  };
}

/** The request's path and action; `undefined` for a target that is not a URL path. */
function readTarget(raw: string | undefined): RequestTarget | undefined {
  try {
    return requestTarget(raw ?? "/");
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, reply: Reply): void {
  if ("json" in reply) {
    const text = JSON.stringify(reply.json);
    res.writeHead(reply.status ?? 200, {
      ...JSON_HEADERS,
      ...reply.headers,
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
    return;
  }
  if ("encoded" in reply) {
    const bytes = reply.encoded;
    res.writeHead(reply.status ?? 200, {
      ...JSON_HEADERS,
      ...reply.headers,
      "content-length": bytes.length,
    });
    // "close" follows the last write (or the end of a broken connection): nothing reads them then.
    res.once("close", () => bytes.fill(0));
    res.end(bytes);
    return;
  }
  res.writeHead(reply.status ?? 200, {
    "content-type": reply.contentType,
    "content-length": reply.bytes.length,
    "cache-control": JSON_HEADERS["cache-control"],
    "x-content-type-options": "nosniff",
  });
  res.end(reply.bytes);
}

/** Builds the request handler for an mTLS server. */
export function createDispatcher<Name extends string, Rule>(
  options: DispatcherOptions<Name, Rule>,
): MtlsHandler {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async (req: IncomingMessage, res: ServerResponse, peer: SpiffeId) => {
    const started = performance.now();
    const target = readTarget(req.url);
    const completion: Completion = {
      trail: crypto.randomUUID(),
      caller: peer.toString(),
      method: req.method ?? "",
      target: target?.pathname ?? "",
      action: target?.action ?? "",
      route: null,
      status: 0,
      durationMs: 0,
    };
    let spec: RouteSpec<Name> | undefined;
    let reply: Reply;
    let auditFailed = false;
    try {
      const found = target && findRoute(options.routes, target.pathname, target.action);
      if (options.audit) {
        try {
          const { status: _status, durationMs: _duration, ...arrival } = completion;
          await options.audit.request({ ...arrival, route: found?.name ?? null });
        } catch (e) {
          auditFailed = true;
          throw e;
        }
      }
      if (!target) throw badRequest("the request target is not a path");
      if (req.method !== "POST") throw badRequest("only POST is served");
      const gated = options.gate?.(found);
      if (gated) throw gated;
      if (!found) throw badRequest("no such route");
      spec = found;
      completion.route = spec.name;
      const wait = options.limit?.(peer, spec);
      if (wait) throw new RateLimitedError(wait);
      let bodyPromise: Promise<Uint8Array> | undefined;
      const body = () => bodyPromise ??= readBody(req, spec?.maxBodyBytes ?? limit);
      reply = await runRoute(options.handlers[spec.name], options.guard, {
        route: spec,
        peer,
        headers: req.headers,
        body,
        json: async () => parseJsonObject(await body()),
        note: (field, value) => {
          if (!(field in completion)) completion[field] = value;
        },
      });
    } catch (e) {
      const failed = errorReply(spec, e);
      if (failed.unexpected) options.onError?.(e, completion);
      completion.code = failed.code;
      reply = failed.reply;
      req.resume(); // discard any unread body
    }
    completion.status = reply.status ?? 200;
    completion.durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    if (options.audit && !auditFailed) {
      try {
        await options.audit.response(completion);
      } catch (e) {
        auditFailed = true;
        options.onError?.(e, completion);
        const failed = errorReply(spec, internalError());
        reply = failed.reply;
        completion.code = failed.code;
        completion.status = reply.status ?? 500;
      }
    }
    if (auditFailed) completion.auditFailed = "true";
    send(res, reply);
    options.onComplete?.(completion);
  };
}
