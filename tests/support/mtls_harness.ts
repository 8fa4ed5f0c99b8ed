/**
 * Runs `mtls_peer.ts` (and independent clients such as curl and `openssl s_client`) as child
 * processes with narrow permissions, and collects what they print.
 *
 * @module
 */

import type { PeerConfig } from "./mtls_peer.ts";

const PEER = new URL("./mtls_peer.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

/** A JSON line printed by the peer. */
export type PeerEvent = { event: string; [key: string]: unknown };

/** A running peer process. */
export class PeerProcess {
  readonly events: PeerEvent[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #pumped: Promise<void>;
  readonly #stderr: Promise<string>;
  #waiters: (() => void)[] = [];

  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#pumped = this.#pump();
    this.#stderr = new Response(child.stderr).text();
  }

  async #pump(): Promise<void> {
    let buffered = "";
    for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) !== -1) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        try {
          this.events.push(JSON.parse(line));
        } catch {
          this.events.push({ event: "stdout", line });
        }
        for (const w of this.#waiters) w();
      }
    }
    for (const w of this.#waiters) w();
  }

  /** Waits for the first event (from index `from`) that `match` accepts. */
  async waitFor(
    match: (e: PeerEvent) => boolean,
    { from = 0, timeoutMs = 15_000 } = {},
  ): Promise<PeerEvent> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = this.events.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `peer: no matching event within ${timeoutMs} ms; events: ${JSON.stringify(this.events)}` +
            `; stderr: ${await this.#stderrSoFar()}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 100);
        this.#waiters.push(done);
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
      this.#waiters = [];
    }
  }

  async #stderrSoFar(): Promise<string> {
    const t = new Promise<string>((r) => setTimeout(() => r("(still running)"), 50));
    const s = await Promise.race([this.#stderr, t]);
    return s;
  }

  /** Sends a signal to the peer. */
  signal(sig: Deno.Signal): void {
    this.#child.kill(sig);
  }

  /** Waits for the process to exit (after it finished on its own or was signalled). */
  async exited(): Promise<{ code: number; stderr: string }> {
    const status = await this.#child.status;
    await this.#pumped;
    return { code: status.code, stderr: await this.#stderr };
  }

  /** Stops the peer (SIGTERM, then SIGKILL after 3 s) and waits for it. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 3000);
    await this.exited();
    clearTimeout(timer);
  }
}

/** Starts `mtls_peer.ts` with read access to `readDir` and net access to 127.0.0.1 only. */
export function startPeer(config: PeerConfig, readDir: string): PeerProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--allow-read=${readDir}`,
      "--allow-net=127.0.0.1",
      PEER,
      JSON.stringify(config),
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new PeerProcess(child);
}

/** Starts a peer server and waits until it listens; returns it with its port. */
export async function startPeerServer(
  config: Omit<PeerConfig, "mode">,
  readDir: string,
): Promise<{ peer: PeerProcess; port: number }> {
  const peer = startPeer({ ...config, mode: "server" }, readDir);
  try {
    const listening = await peer.waitFor((e) => e.event === "listening");
    return { peer, port: listening.port as number };
  } catch (e) {
    await peer.stop();
    throw e;
  }
}

/** Runs the peer as a one-shot client; returns its single result event. */
export async function runPeerClient(
  config: Omit<PeerConfig, "mode">,
  readDir: string,
): Promise<PeerEvent> {
  const peer = startPeer({ ...config, mode: "client" }, readDir);
  const { stderr } = await peer.exited();
  const result = peer.events.find((e) => e.event === "response" || e.event === "error");
  if (!result) throw new Error(`peer client printed no result; stderr: ${stderr}`);
  return result;
}

/** Runs a command to completion; returns exit code and output. */
export async function runTool(
  cmd: string,
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
