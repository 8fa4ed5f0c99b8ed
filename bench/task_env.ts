/**
 * The environment the benches start `deno task <program>` with: nothing of the
 * caller's but what the task's `sh` and Deno need, so a start is timed as a
 * user's would be and no setting of the bench machine leaks into it.
 *
 * @module
 */

/** `PATH` (the task's `sh` finds `deno` on it), `HOME` and `DENO_DIR` (Deno's cache), no colour. */
export function taskEnv(): Record<string, string> {
  return {
    NO_COLOR: "1",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
  };
}
