/**
 * A Keeper that misbehaves, for the fault drills: it has a real Keeper SVID and
 * answers `POST /v1/store/shard` in one of these ways (`contribute` is accepted
 * and thrown away):
 *
 * - `wrong`: a well-formed share at its own position, of no key anyone made
 * - `garbage`: 200 with bytes that are not JSON
 * - `huge`: 200 with an endless JSON body (until the caller hangs up)
 * - `silent`: reads the request and never answers
 *
 *   deno run <keeper grants> tests/support/hostile_keeper.ts PORT MODE INDEX
 *
 * @module
 */

import { SHARE_LENGTH } from "../../lib/crypto/shamir.ts";
import { openIdentitySource } from "../../lib/identity/source.ts";
import { authorizeAny } from "../../lib/tls/authorize.ts";
import { createMtlsServer } from "../../lib/tls/server.ts";

const [port, mode, index] = Deno.args;
const MODES = ["wrong", "garbage", "huge", "silent"];
if (!MODES.includes(mode) || !port || !index) {
  console.error(`usage: hostile_keeper.ts PORT ${MODES.join("|")} INDEX`);
  Deno.exit(2);
}

const source = await openIdentitySource({});
const server = createMtlsServer({
  source,
  authorizer: authorizeAny(),
  handler: (req, res) => {
    req.resume();
    req.on("end", () => {
      if (!req.url?.endsWith("/shard")) {
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
        return;
      }
      switch (mode) {
        case "wrong": {
          const share = crypto.getRandomValues(new Uint8Array(SHARE_LENGTH));
          share[SHARE_LENGTH - 1] = Number(index);
          res.writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ shard: Array.from(share) }));
          return;
        }
        case "garbage":
          res.writeHead(200, { "content-type": "application/json" }).end("\u0000{shard: nope");
          return;
        case "huge": {
          res.writeHead(200, { "content-type": "application/json" });
          const chunk = "1,".repeat(32 * 1024);
          res.write('{"shard":[');
          const more = () => {
            while (!res.destroyed && res.write(chunk)) { /* until the pipe is full */ }
            if (!res.destroyed) res.once("drain", more);
          };
          more();
          return;
        }
        case "silent":
          return; // never answers
      }
    });
  },
});
await server.listen(Number(port), "127.0.0.1");
console.log(`hostile keeper (${mode}) ready on 127.0.0.1:${port}`);
