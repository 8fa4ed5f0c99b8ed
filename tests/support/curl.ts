/**
 * curl as an outside client of a test stack's Nexus: the identity's X.509-SVID
 * is fetched from the dev agent into files (`agent fetch x509 --write`), and
 * curl presents them. What curl sees (status, headers, body) is what any
 * client that is not ours would see.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fetchX509 } from "./agent.ts";
import { run } from "./programs.ts";
import type { Identity, Stack } from "./stack.ts";

/** What curl got. */
export interface CurlAnswer {
  /** curl's exit code (0 when it got an HTTP answer, whatever the status). */
  code: number;
  stderr: string;
  /** The HTTP status, e.g. `"200"` (`"000"` when there was no answer). */
  status: string;
  /** The response headers as sent, status line first (only with `headers: true`). */
  headers: string;
  body: string;
}

/** Options for {@link curlAs}. */
export interface CurlOptions {
  /** The request body (default `{}`). */
  data?: string;
  /** Also return the response headers. */
  headers?: boolean;
}

const fetched = new WeakMap<Stack, Map<Identity, Promise<{ cert: string; key: string }>>>();

/** The identity's SVID and key as PEM files in the stack's folder, fetched once per stack. */
export function svidFiles(
  stack: Stack,
  identity: Identity,
): Promise<{ cert: string; key: string }> {
  let byIdentity = fetched.get(stack);
  if (!byIdentity) fetched.set(stack, byIdentity = new Map());
  let files = byIdentity.get(identity);
  if (!files) {
    files = (async () => {
      const dir = join(stack.dir, `curl-svid-${identity}`);
      await Deno.mkdir(dir);
      const out = await fetchX509(stack.socket(identity), ["--write", dir, "--silent"], dir);
      assert.equal(out.code, 0, out.stderr);
      return { cert: join(dir, "svid.0.pem"), key: join(dir, "svid.0.key") };
    })();
    byIdentity.set(identity, files);
  }
  return files;
}

/**
 * POSTs to `target` (a path with its `?action=`) of the stack's Nexus with
 * curl, as `identity`, or with no client certificate when `identity` is `null`.
 */
export async function curlAs(
  stack: Stack,
  identity: Identity | null,
  target: string,
  options: CurlOptions = {},
): Promise<CurlAnswer> {
  const cert = identity === null ? [] : await (async () => {
    const { cert, key } = await svidFiles(stack, identity);
    return ["--cert", cert, "--key", key];
  })();
  const out = await run("curl", [
    "--silent",
    "--show-error",
    "--insecure", // curl cannot check a URI-only SAN; the client certificate is what we test
    ...cert,
    "--data",
    options.data ?? "{}",
    ...(options.headers ? ["--dump-header", "-"] : []),
    "--write-out",
    "\n%{http_code}",
    `${stack.nexusUrl}${target}`,
  ]);
  const end = out.stdout.lastIndexOf("\n");
  const status = out.stdout.slice(end + 1);
  let body = end < 0 ? "" : out.stdout.slice(0, end);
  let headers = "";
  if (options.headers) {
    const split = body.indexOf("\r\n\r\n");
    headers = split < 0 ? body : body.slice(0, split + 2);
    body = split < 0 ? "" : body.slice(split + 4);
  }
  return { code: out.code, stderr: out.stderr, status, headers, body };
}
