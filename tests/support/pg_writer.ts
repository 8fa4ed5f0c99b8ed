/**
 * A writer process for the postgres compare-and-set test: opens the store
 * from `SPIKE_NEXUS_DB_URL` (password from PGPASSWORD), then `workers`
 * concurrent loops each add 1 to one counter key `rounds` times by
 * read-check-write (retrying when the check fails), and prints how many
 * commits it had acknowledged and how many checks failed, as JSON. Run with narrow
 * permissions: `--allow-net=<db host:port> --allow-env=SPIKE_NEXUS_DB_URL,PGPASSWORD
 * --ignore-env=PGBINARY,PGREPLICATION`.
 *
 * Usage: pg_writer.ts <rounds> <workers>
 */

import { openPostgresStore } from "../../nexus/store/postgres.ts";
import { parsePgConnInfo } from "../../nexus/store/postgres_conninfo.ts";

const [rounds, workers] = Deno.args.map(Number);
const store = await openPostgresStore({
  conninfo: parsePgConnInfo(Deno.env.get("SPIKE_NEXUS_DB_URL")!),
  password: Deno.env.get("PGPASSWORD"),
  maxOpenConns: workers,
  operationTimeoutMs: 15_000,
});
const key = ["counter"];
let conflicts = 0;
await Promise.all(Array.from({ length: workers }, async () => {
  for (let i = 0; i < rounds; i++) {
    while (true) {
      const seen = await store.get(key);
      const n = seen ? Number(new TextDecoder().decode(seen.value)) : 0;
      const tx = store.atomic().check(key, seen?.versionstamp ?? null)
        .set(key, new TextEncoder().encode(String(n + 1)));
      if ((await tx.commit()).ok) break;
      conflicts++;
    }
  }
}));
await store.end();
console.log(JSON.stringify({ commits: rounds * workers, conflicts }));
