/**
 * Facts about running the project's programs that tests share.
 *
 * @module
 */

import { GRPC_ENV as GRPC_ENV_LIST } from "../../launch/flags.ts";

/** The variables grpc-js reads, as an `--allow-env` list (from launch/flags.ts). */
export const GRPC_ENV = GRPC_ENV_LIST.join(",");

/** Runs a command to completion and returns its exit code and output. */
export async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

export { within } from "../../lib/std/async.ts";
