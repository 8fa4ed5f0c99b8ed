/**
 * Bootstrap's routes: verify (Nexus proves it holds Bootstrap's root key by
 * decrypting a challenge; a pending first key is confirmed this way) and
 * state (our addition: does Nexus already hold a root key and so maybe data).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { internalError, notReady, unauthorized } from "../../lib/api/errors.ts";
import type { NexusRouteName } from "../../lib/api/routes.ts";
import {
  type BootstrapStateResponse,
  parseVerifyRequest,
  type VerifyResponse,
} from "../../lib/api/rootkey.ts";
import { IntegrityError } from "../../lib/crypto/aead.ts";
import { BOOTSTRAP_VERIFY_AAD } from "../../lib/crypto/keyring.ts";
import type { RouteHandler } from "../../lib/http/dispatch.ts";
import type { NexusContext } from "../context.ts";

type Handlers = Record<"bootstrap.verify" | "bootstrap.state", RouteHandler<NexusRouteName>>;

/** The Bootstrap route handlers. */
export function bootstrapHandlers(ctx: NexusContext): Handlers {
  return {
    "bootstrap.verify": async (request) => {
      const body = await request.json();
      if (!ctx.roles.has(request.peer, "bootstrap")) throw unauthorized();
      const { nonce, ciphertext } = parseVerifyRequest(body, ctx.config.maxCiphertextBytes);
      const keyring = ctx.state.candidateKeyring;
      if (!keyring) {
        ctx.keepers?.wake();
        throw notReady();
      }
      let plaintext: Uint8Array;
      try {
        plaintext = keyring.key("bootstrap-verify").decrypt(
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
          ctx.log.error("bootstrap verify: a different key-check record appeared; not confirming");
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

    "bootstrap.state": async (request) => {
      await request.json();
      if (!ctx.roles.has(request.peer, "bootstrap")) throw unauthorized();
      ctx.keepers?.wake();
      // The memory backend has its own key and maybe data: Bootstrap has nothing to give it.
      const initialized = ctx.config.backend === "memory" || await ctx.state.initialized();
      const response: BootstrapStateResponse = {
        initialized,
        ready: ctx.config.backend === "memory" || ctx.state.status === "ready",
      };
      return { json: response };
    },
  };
}
