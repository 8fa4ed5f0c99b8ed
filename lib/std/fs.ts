/**
 * File system helpers the standard library would give us (JSR is out of reach).
 *
 * @module
 */

/** True when something exists at `path` (a dangling link counts; a permission error throws). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
