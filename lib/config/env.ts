/**
 * Reading configuration from environment variables. A set but invalid value
 * is an error naming the variable, never a silent fallback to the default.
 *
 * @module
 */

/** Thrown for a configuration value that cannot be used. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration (`300ms`, `1.5h`, `2h45m`, `0`) into milliseconds.
 * Negative durations are refused: nothing here is configured with one.
 */
export function parseGoDuration(text: string): number {
  if (text === "0") return 0;
  const whole =
    /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))*$/;
  if (!whole.test(text)) {
    throw new ConfigError(
      `"${text}" is not a duration; write it as Go does, e.g. "500ms", "30s", "5m" or "1h30m"`,
    );
  }
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(amount) * UNIT_MS[unit];
  }
  return total;
}

function raw(name: string): string | undefined {
  const value = Deno.env.get(name);
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function invalid(name: string, value: string, why: string): ConfigError {
  return new ConfigError(`${name}=${JSON.stringify(value)} is invalid: ${why}`);
}

/** A string variable, or the default when unset or empty. */
export function envString(name: string, defaultValue: string): string {
  return raw(name) ?? defaultValue;
}

/** A duration variable in Go syntax, returned in milliseconds. */
export function envDuration(
  name: string,
  defaultMs: number,
  { min = 0 }: { min?: number } = {},
): number {
  const value = raw(name);
  if (value === undefined) return defaultMs;
  let ms: number;
  try {
    ms = parseGoDuration(value);
  } catch (e) {
    throw invalid(name, value, (e as Error).message);
  }
  if (ms < min) throw invalid(name, value, `it must be at least ${min}ms`);
  return ms;
}

/** An integer variable within bounds (inclusive). */
export function envInt(
  name: string,
  defaultValue: number,
  { min = 1, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {},
): number {
  const value = raw(name);
  if (value === undefined) return defaultValue;
  if (!/^-?\d+$/.test(value)) throw invalid(name, value, "it must be a whole number");
  const n = Number(value);
  if (n < min || n > max) throw invalid(name, value, `it must be from ${min} to ${max}`);
  return n;
}

/** A boolean variable: `true` or `false` (any case); anything else is an error. */
export function envBool(name: string, defaultValue: boolean): boolean {
  const value = raw(name);
  if (value === undefined) return defaultValue;
  const lower = value.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  throw invalid(name, value, 'it must be "true" or "false"');
}

/** A comma-separated list; entries are trimmed and none may be empty. */
export function envList(name: string, defaultValue: string[]): string[] {
  const value = raw(name);
  if (value === undefined) return defaultValue;
  const items = value.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw invalid(name, value, "it has an empty entry");
  return items;
}
