/**
 * POSIX path helpers with `node:path`'s results, for code that must start
 * fast: importing any `node:` module makes Deno load its Node compatibility
 * layer (about 100 ms on 2 cores), and the launcher (`launch/`) runs before
 * every program the tasks start. POSIX only: the launcher's output is `sh`.
 *
 * @module
 */

/** True when `path` starts at the root. */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** `path` without `.` and `..` steps or repeated slashes (a trailing slash stays). */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = isAbsolute(path);
  const trailing = path.endsWith("/");
  const out: string[] = [];
  for (const step of path.split("/")) {
    if (step === "" || step === ".") continue;
    if (step === "..") {
      if (out.length > 0 && out.at(-1) !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else {
      out.push(step);
    }
  }
  let joined = out.join("/");
  if (joined === "") return absolute ? "/" : trailing ? "./" : ".";
  if (trailing) joined += "/";
  return absolute ? `/${joined}` : joined;
}

/** The parts joined with `/`, normalized; `.` when all are empty. */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/**
 * The absolute path the parts name, read right to left until one is absolute
 * (then against the current folder, as `node:path` does); no trailing slash.
 */
export function resolve(...parts: string[]): string {
  let path = "";
  for (let i = parts.length - 1; i >= 0 && !isAbsolute(path); i--) {
    if (parts[i] !== "") path = path === "" ? parts[i] : `${parts[i]}/${path}`;
  }
  if (!isAbsolute(path)) path = path === "" ? Deno.cwd() : `${Deno.cwd()}/${path}`;
  const normal = normalize(path);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/**
 * The folder that holds `path` (`.` for a bare name, `/` for the root): the
 * text before its last slash that follows a name, as `node:path` has it.
 */
export function dirname(path: string): string {
  if (path === "") return ".";
  const rooted = isAbsolute(path);
  let afterName = false;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path[i] !== "/") afterName = true;
    else if (afterName) return rooted && i === 1 ? "//" : path.slice(0, i);
  }
  return rooted ? "/" : ".";
}
