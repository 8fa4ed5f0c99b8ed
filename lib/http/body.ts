/**
 * Reading request bodies with a size limit that is enforced while reading,
 * so an oversized body is refused before it is held in memory.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import { badRequest } from "../api/errors.ts";

/** The default largest request body: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Reads the whole body; a body over `limit` bytes is a 400 `api_bad_request`. */
export function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume(); // drain, so the connection stays usable for the answer
    return Promise.reject(badRequest(`the body exceeds ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Uint8Array) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(badRequest(`the body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (failed) return;
      const body = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        body.set(c, at);
        at += c.length;
      }
      resolve(body);
    });
    req.on("error", (e) => {
      if (!failed) reject(badRequest(`the body could not be read: ${e.message}`));
      failed = true;
    });
  });
}
