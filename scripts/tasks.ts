/**
 * The `deno.json` tasks of the programs: `permissionFlags` for the default
 * configuration (the dev stack's sockets under `.spike/`, SPIRE's default
 * socket, upstream's default ports and folders). `deno task` expands `$PWD`
 * (the checkout) and `$HOME`.
 *
 *   deno run --allow-read=deno.json --allow-write=deno.json scripts/tasks.ts --write
 *
 * rewrites the tasks; `tasks_test.ts` fails when deno.json and this disagree.
 *
 * @module
 */

import { DEFAULT_SOCKETS } from "../dev/agent/registration.ts";
import { ENTRY, permissionFlags, type Program, type Reach } from "./permissions.ts";

const SPIRE_SOCKET = "/tmp/spire-agent/public/api.sock";
const devSocket = (name: string) => `$PWD/.spike/agent/sockets/${name}.sock`;
const KEEPER_PORTS = [8443, 8543, 8643];
const both = (port: number) => [`localhost:${port}`, `127.0.0.1:${port}`];

/** What each program may touch in its default configuration. */
export const DEFAULT_REACH: Record<Exclude<Program, "agent">, Reach> = {
  nexus: {
    sockets: [devSocket("nexus"), SPIRE_SOCKET],
    hosts: ["0.0.0.0:8553", "127.0.0.1:8553", ...KEEPER_PORTS.flatMap(both)],
    folders: ["$PWD/.spike/nexus", "$HOME/.spike/data"],
  },
  keeper: {
    sockets: [devSocket("keeper"), SPIRE_SOCKET],
    hosts: KEEPER_PORTS.flatMap((p) => [`0.0.0.0:${p}`, `127.0.0.1:${p}`]),
  },
  bootstrap: {
    sockets: [devSocket("bootstrap"), SPIRE_SOCKET],
    hosts: [...both(8553), ...KEEPER_PORTS.flatMap(both)],
  },
  spike: {
    sockets: ["pilot", "pilot-recover", "pilot-restore"].map(devSocket).concat(SPIRE_SOCKET),
    hosts: both(8553),
    // Files named on the command line (`key=@file`, `cipher -f/-o`) must be under these.
    folders: ["$PWD", "$HOME/.spike", "/tmp"],
  },
};

/** The task command of each program. */
export function programTasks(): Record<Program | "dev", string> {
  const tasks = {} as Record<Program | "dev", string>;
  for (const [program, reach] of Object.entries(DEFAULT_REACH) as [Program, Reach][]) {
    tasks[program] = ["deno run", ...permissionFlags(program, reach), ENTRY[program]].join(" ");
  }
  // The dev stack starts the programs itself, each with permissionFlags() for its paths.
  tasks.dev = [
    "deno run",
    "--allow-run=deno",
    "--allow-read=$PWD",
    "--allow-write=$PWD/.spike",
    `--allow-net=${[...KEEPER_PORTS, 8553].map((p) => `127.0.0.1:${p}`).join(",")}`,
    "dev/stack/main.ts",
  ].join(" ");
  // Pilot uses the dev agent's superuser socket when SPIFFE_ENDPOINT_SOCKET is not set.
  tasks.spike = `SPIKE_PILOT_DEFAULT_SOCKET=unix://${devSocket("pilot")} ${tasks.spike}`;
  tasks.agent = [
    "deno run",
    ...permissionFlags("agent", {
      sockets: DEFAULT_SOCKETS.map(devSocket),
      folders: ["$PWD/.spike"],
    }),
    ENTRY.agent,
  ].join(" ");
  return tasks;
}

if (import.meta.main) {
  const config = JSON.parse(await Deno.readTextFile("deno.json"));
  const tasks = programTasks();
  if (Deno.args.includes("--write")) {
    config.tasks = { ...config.tasks, ...tasks };
    await Deno.writeTextFile("deno.json", JSON.stringify(config, null, 2) + "\n");
  } else {
    for (const [name, command] of Object.entries(tasks)) console.log(`${name}: ${command}`);
  }
}
