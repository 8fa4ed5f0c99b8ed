/**
 * Operational logs: one JSON object per line on stderr, filtered by
 * `SPIKE_SYSTEM_LOG_LEVEL` (DEBUG, INFO, WARN, ERROR; default WARN). Callers
 * pass fields, never secret values.
 *
 * @module
 */

import { ConfigError } from "../config/env.ts";
import { stderrLines } from "./stderr.ts";

/** Log levels, least to most severe. */
export const LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;
/** A log level. */
export type Level = typeof LEVELS[number];

/** Fields attached to a log line. */
export type Fields = Record<string, string | number | boolean | null | undefined>;

/** A component's logger. */
export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** Always written, whatever the level: start-up and readiness lines. */
  notice(msg: string, fields?: Fields): void;
}

/** The level from `SPIKE_SYSTEM_LOG_LEVEL`; an unknown value is an error naming it. */
export function levelFromEnv(): Level {
  const raw = Deno.env.get("SPIKE_SYSTEM_LOG_LEVEL")?.trim().toUpperCase();
  if (!raw) return "WARN";
  if ((LEVELS as readonly string[]).includes(raw)) return raw as Level;
  throw new ConfigError(
    `SPIKE_SYSTEM_LOG_LEVEL=${JSON.stringify(raw)} is invalid: use DEBUG, INFO, WARN or ERROR`,
  );
}

/** A logger for `component` that writes lines at `level` and above to `write` (stderr). */
export function createLogger(
  component: string,
  level: Level = levelFromEnv(),
  write: (line: string) => void = (line) => stderrLines().writeNow(line),
): Logger {
  const min = LEVELS.indexOf(level);
  const emit = (lvl: Level | "NOTICE") => (msg: string, fields: Fields = {}) => {
    if (lvl !== "NOTICE" && LEVELS.indexOf(lvl) < min) return;
    write(
      JSON.stringify({ time: new Date().toISOString(), level: lvl, component, msg, ...fields }) +
        "\n",
    );
  };
  return {
    debug: emit("DEBUG"),
    info: emit("INFO"),
    warn: emit("WARN"),
    error: emit("ERROR"),
    notice: emit("NOTICE"),
  };
}
