/**
 * The contract of root-key rotation (ours, not upstream's):
 * `POST /v1/operator/rotate`, the superuser only. A body of `{}` starts a
 * rotation, or joins the one in progress; `{"generation": N}` only waits for
 * the rotation to generation N (it never starts one), which is how a client
 * polls a long rotation. The answer comes when the rotation is done, or
 * after about 20 s with `done: false`.
 *
 * @module
 */

import { invalid } from "./errors.ts";
import type { JsonObject } from "./json.ts";

/** `POST /v1/operator/rotate` body. */
export interface RotateRequest {
  /** Only wait for the rotation to this generation. */
  generation?: number;
}

/** `POST /v1/operator/rotate` success body. */
export interface RotateResponse {
  /** The generation retired (or being retired). */
  from: number;
  /** The generation in use once done. */
  to: number;
  /** `handover`, `resealing` or `stable` (done). */
  state: string;
  done: boolean;
  /** Records re-sealed by the Nexus that answered. */
  resealed: number;
}

/** Parses a rotate request. */
export function parseRotateRequest(obj: JsonObject): RotateRequest {
  const generation = obj.generation;
  if (generation === undefined || generation === null) return {};
  if (typeof generation !== "number" || !Number.isInteger(generation) || generation < 1) {
    throw invalid("generation", "range", "a whole number from 1", '"generation" is not valid');
  }
  return { generation };
}

/**
 * `POST /v1/operator/rekey` body (ours, the superuser only): new shares of
 * the same root key for `shares` Keepers, any `threshold` of which give it.
 * `keepers` (default: every Keeper in `SPIKE_NEXUS_KEEPER_PEERS`) must each
 * be listed there. The answer comes when every Keeper of the new set holds
 * its share and the set is in force.
 */
export interface RekeyRequest {
  shares: number;
  threshold: number;
  keepers?: string[];
}

/** `POST /v1/operator/rekey` success body. */
export interface RekeyResponse {
  done: boolean;
  threshold: number;
  /** The set in force: each Keeper with the x coordinate of its share. */
  keepers: { index: number; url: string }[];
  /** Keepers dropped from the set that did not answer: they still hold an old share. */
  notForgotten: string[];
}

/** `POST /v1/operator/rekey` 400 body when the plan cannot be carried out (nothing changed). */
export interface RekeyRefusal {
  done: false;
  threshold: 0;
  keepers: null;
  notForgotten: null;
  err: "api_bad_request";
  /** Why, for the operator (names Keeper URLs and counts only). */
  refused: string;
}

/** Parses a rekey request. */
export function parseRekeyRequest(obj: JsonObject): RekeyRequest {
  const count = (name: "shares" | "threshold") => {
    const v = obj[name];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 2 || v > 255) {
      throw invalid(name, "range", "a whole number from 2 to 255", `"${name}" is not valid`);
    }
    return v;
  };
  const request: RekeyRequest = { shares: count("shares"), threshold: count("threshold") };
  const keepers = obj.keepers;
  if (keepers === undefined || keepers === null) return request;
  if (
    !Array.isArray(keepers) || keepers.length > 255 ||
    !keepers.every((k) => typeof k === "string" && k.length > 0 && k.length <= 2048)
  ) {
    throw invalid("keepers", "type", "a list of Keeper URLs", '"keepers" is not valid');
  }
  return { ...request, keepers: keepers as string[] };
}
