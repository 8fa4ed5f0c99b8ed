/**
 * Starts the dev agent as a separate process with narrow permissions (only
 * its temp folder and its own sockets), for end-to-end tests.
 *
 * @module
 */

import { join } from "node:path";
import { CANCEL_SETTLE_MS } from "../../lib/spiffe/workloadapi/settle.ts";
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
  /** Sends a signal to the agent process now serving (tests use it to crash it). */
  kill(signal: Deno.Signal): void;
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

/**
 * How often a stack's agent is started again after dying on its own. Deno's
 * `node:http2` server can abort the whole agent on a client's RST_STREAM and GOAWAY
 * arriving together (see `lib/spiffe/workloadapi/client.ts`); our clients avoid it,
 * and this keeps a test from failing for it all the same. The restart is logged in
 * {@link TestAgent.stderr}.
 */
const MAX_RESTARTS = 3;

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
  let stderrText = "";
  const pipes: Promise<void>[] = [];

  /** One agent process, ready, its output kept flowing. */
  const launch = async (): Promise<Deno.ChildProcess> => {
    const child = command.spawn();
    pipes.push((async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) stderrText += decoder.decode(chunk, { stream: true });
    })());
    let stdoutReader: ReadableStreamDefaultReader<Uint8Array>;
    try {
      ({ reader: stdoutReader } = await readUntil(
        child.stdout,
        (t) => t.includes("ready:"),
        20_000,
      ));
    } catch (e) {
      child.kill("SIGKILL");
      await child.status;
      await Promise.all(pipes);
      throw new Error(`${(e as Error).message}\nstderr:\n${stderrText}`);
    }
    pipes.push((async () => {
      while (!(await stdoutReader.read()).done) { /* keep the pipe flowing */ }
    })());
    return child;
  };

  let child = await launch();
  let stopping = false;
  const watched = (async () => {
    for (let restarts = 0; restarts < MAX_RESTARTS; restarts++) {
      const status = await child.status;
      if (stopping) return;
      stderrText += `\n[stack] the agent died (exit ${status.code}` +
        `${status.signal ? `, ${status.signal}` : ""}); starting it again\n`;
      try {
        child = await launch();
        if (stopping) child.kill("SIGTERM"); // stop() came while it was starting
      } catch (e) {
        stderrText += `[stack] the agent did not start again: ${(e as Error).message}\n`;
        return;
      }
    }
  })();
  return {
    dir,
    address: (s) => `unix://${socketPath(s)}`,
    socketPath,
    stderr: () => stderrText,
    kill: (signal) => child.kill(signal),
    async stop() {
      // In-process clients close their connections CANCEL_SETTLE_MS after a cancel; the
      // agent's GOAWAY reaching such a connection first aborts that process (the same nghttp2
      // fault, on the client side), so they are given that time.
      await new Promise((r) => setTimeout(r, CANCEL_SETTLE_MS + 50));
      stopping = true;
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await watched;
      await child.status;
      await Promise.all(pipes);
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
