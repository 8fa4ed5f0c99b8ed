/**
 * Bootstrap's routes: verify (Nexus proves it holds Bootstrap's root key by
 * decrypting a challenge; a pending first key is confirmed this way) and
 * state (our addition: does Nexus already hold a root key and so maybe data).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { internalError, notReady } from "../../lib/api/errors.ts";
import {
  type BootstrapStateResponse,
  parseVerifyRequest,
  type VerifyResponse,
} from "../../lib/api/rootkey.ts";
import { IntegrityError } from "../../lib/crypto/aead.ts";
import { BOOTSTRAP_VERIFY_AAD } from "../../lib/crypto/keyring.ts";
import type { NexusContext } from "../context.ts";
import { nexusRoute, type RouteGroup } from "./route.ts";

/** The Bootstrap route handlers. */
export function bootstrapHandlers(ctx: NexusContext): RouteGroup<"bootstrap"> {
  return {
    "bootstrap.verify": nexusRoute({
      read: (request) => request.json(),
      rule: () => ({ role: "bootstrap" }),
      act: async (body) => {
        const { nonce, ciphertext } = parseVerifyRequest(body, ctx.config.maxCiphertextBytes);
        if (ctx.state.status === "waiting") {
          ctx.keepers?.wake(); // Bootstrap has just handed out shares: look now
          throw notReady();
        }
        const key = ctx.state.key("bootstrap-verify");
        let plaintext: Uint8Array;
        try {
          plaintext = key.decrypt(
            nonce,
            ciphertext,
            BOOTSTRAP_VERIFY_AAD,
          );
        } catch (e) {
          if (!(e instanceof IntegrityError)) throw e;
          ctx.log.error(
            "bootstrap verify failed: the challenge does not decrypt under this Nexus's root key " +
              "(Bootstrap made a different key; this Nexus keeps its own)",
          );
          throw internalError();
        }
        if (ctx.state.status === "pending") {
          if (!(await ctx.state.confirmPending())) {
            ctx.log.error(
              "bootstrap verify: a different key-check record appeared; not confirming",
            );
            throw internalError();
          }
          ctx.log.notice("root key verified by Bootstrap; serving");
        }
        const response: VerifyResponse = {
          hash: createHash("sha256").update(plaintext).digest("hex"),
        };
        plaintext.fill(0);
        return { json: response };
      },
    }),

    "bootstrap.state": nexusRoute({
      read: (request) => request.json(),
      rule: () => ({ role: "bootstrap" }),
      act: async () => {
        ctx.keepers?.wake();
        // Without Keepers Nexus has its own key and maybe data: Bootstrap has nothing to give it.
        const initialized = !ctx.config.profile.keepers || await ctx.state.initialized();
        const response: BootstrapStateResponse = {
          initialized,
          ready: !ctx.config.profile.keepers || ctx.state.status === "ready",
        };
        return { json: response };
      },
    }),
  };
}
