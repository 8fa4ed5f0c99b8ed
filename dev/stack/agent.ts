/**
 * Starts the dev agent as a separate process with narrow permissions (only
 * its temp folder and its own sockets), for end-to-end tests.
 *
 * @module
 */

import { join } from "node:path";
import { GRPC_ENV, run } from "./process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** A running agent. */
export interface TestAgent {
  /** Data folder (CA files); sockets are in `<dir>/sockets`. */
  readonly dir: string;
  /** `unix://` address of a registered socket. */
  address(socket: string): string;
  /** Absolute path of a registered socket. */
  socketPath(socket: string): string;
  /** Everything the agent printed on stderr so far. */
  stderr(): string;
  /** Stops the agent (SIGTERM) and waits for it. */
  stop(): Promise<void>;
}

/** Options for {@link startAgent}. */
export interface TestAgentOptions {
  /** `socket=spiffe://...` or a bare socket name (no identity). */
  identities: string[];
  trustDomain?: string;
  ttl?: string;
  /** Reuse a data folder (to test CA persistence); a new temp folder otherwise. */
  dir?: string;
}

/** Reads a stream line by line until `predicate` matches; returns all text read. */
async function readUntil(
  stream: ReadableStream<Uint8Array>,
  predicate: (text: string) => boolean,
  timeoutMs: number,
): Promise<{ text: string; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  while (!predicate(text)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`timed out waiting; output so far:\n${text}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out waiting; output so far:\n${text}`)),
        remaining,
      );
    });
    try {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error(`process ended before it was ready; output:\n${text}`);
      text += decoder.decode(value, { stream: true });
    } finally {
      clearTimeout(timer);
    }
  }
  return { text, reader };
}

/** Starts `dev/agent/main.ts serve` and waits until it says it is ready. */
export async function startAgent(options: TestAgentOptions): Promise<TestAgent> {
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "spike-agent-" });
  const sockets = options.identities.map((i) => i.split("=")[0]);
  const socketPath = (s: string) => join(dir, "sockets", `${s}.sock`);
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      `--allow-net=${sockets.map((s) => `unix:${socketPath(s)}`).join(",")}`,
      `--allow-env=${GRPC_ENV}`,
      join(ROOT, "dev/agent/main.ts"),
      "serve",
      "--data-dir",
      dir,
      "--trust-domain",
      options.trustDomain ?? "spike.ist",
      "--ttl",
      options.ttl ?? "1h",
      ...options.identities.flatMap((i) => ["--identity", i]),
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const child = command.spawn();
  let stderrText = "";
  const stderrDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) stderrText += decoder.decode(chunk, { stream: true });
  })();
  let stdoutReader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    ({ reader: stdoutReader } = await readUntil(child.stdout, (t) => t.includes("ready:"), 20_000));
  } catch (e) {
    child.kill("SIGKILL");
    await child.status;
    await stderrDone;
    throw new Error(`${(e as Error).message}\nstderr:\n${stderrText}`);
  }
  const drain = (async () => {
    while (!(await stdoutReader.read()).done) { /* keep the pipe flowing */ }
  })();
  return {
    dir,
    address: (s) => `unix://${socketPath(s)}`,
    socketPath,
    stderr: () => stderrText,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      await Promise.all([drain, stderrDone]);
      if (!options.dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Runs `agent fetch x509 --socket-path SOCKET [args...]` as its own process,
 * with read/write only on the socket and `dir` (for `--write`).
 */
export function fetchX509(
  socket: string,
  args: string[],
  dir?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const files = dir ? `${socket},${dir}` : socket;
  return run(Deno.execPath(), [
    "run",
    `--allow-read=${files}`,
    `--allow-write=${files}`,
    `--allow-net=unix:${socket}`,
    `--allow-env=${GRPC_ENV},SPIFFE_ENDPOINT_SOCKET`,
    join(ROOT, "dev/agent/main.ts"),
    "fetch",
    "x509",
    "--socket-path",
    socket,
    ...args,
  ], { env: { NO_COLOR: "1" } });
}
