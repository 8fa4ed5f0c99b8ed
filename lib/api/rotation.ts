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
