/**
 * Reading secrets without putting them on the command line: a hidden prompt
 * on a terminal, or standard input otherwise.
 *
 * @module
 */

import { CliError } from "./cli.ts";
import { Exit } from "./exit.ts";

const MAX_LINE = 4096;

/**
 * Reads a stream to its end; more than `max` bytes throws `tooLarge()` (what
 * was read so far is zeroed first: it may be a secret).
 */
export async function readStream(
  stream: ReadableStream<Uint8Array>,
  max: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > max) {
      for (const c of chunks) c.fill(0);
      chunk.fill(0);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
    c.fill(0);
  }
  return out;
}

/** Reads stdin to the end, at most `max` bytes. */
export function readStdin(max: number): Promise<Uint8Array> {
  return readStream(
    Deno.stdin.readable,
    max,
    () => new CliError(`standard input is larger than ${max} bytes`, Exit.usage),
  );
}

/** One line: typed at a hidden prompt on a terminal, else read from stdin. */
export async function readSecretLine(prompt: string): Promise<string> {
  if (!Deno.stdin.isTerminal()) {
    return new TextDecoder().decode(await readStdin(MAX_LINE)).trim();
  }
  const encoder = new TextEncoder();
  Deno.stderr.writeSync(encoder.encode(prompt));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buf = new Uint8Array(1);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      const c = buf[0];
      if (c === 0x0d || c === 0x0a) break;
      if (c === 0x03) throw new CliError("cancelled", Exit.failure); // Ctrl-C
      if (c === 0x7f || c === 0x08) {
        bytes.pop();
        continue;
      }
      if (bytes.length < MAX_LINE) bytes.push(c);
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
  const line = new TextDecoder().decode(new Uint8Array(bytes)).trim();
  bytes.fill(0);
  return line;
}
