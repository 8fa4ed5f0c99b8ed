/** Keepers that misbehave, in a real Keeper's place: `hostile_keeper.ts` run with a Keeper's grants. */

import { join } from "node:path";
import { permissionFlags } from "../../launch/flags.ts";
import { Proc, type Stack } from "./stack.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/**
 * Starts `hostile_keeper.ts` in `mode` (wrong, garbage, huge, silent) on Keeper
 * `i`'s port with a real Keeper SVID; resolves once it listens.
 */
export async function startHostileKeeper(stack: Stack, i: number, mode: string): Promise<Proc> {
  const port = stack.keeperPorts[i];
  const socket = stack.socket("keeper");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...permissionFlags("keeper", { sockets: [socket], hosts: [`127.0.0.1:${port}`] }),
      join(ROOT, "tests/support/hostile_keeper.ts"),
      String(port),
      mode,
      String(i + 1),
    ],
    env: { SPIFFE_ENDPOINT_SOCKET: `unix://${socket}`, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const proc = new Proc(`hostile-${mode}`, child);
  await proc.waitFor(/ready on/, 20_000, 0, "any");
  return proc;
}
