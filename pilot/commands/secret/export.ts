/**
 * `spike secret export`: a secret for tools that want a file (env, json or
 * yaml), on stdout or into `-o FILE` with mode 0600 (a shell redirect would
 * leave it readable by others).
 *
 * @module
 */

import { stringify as toYaml } from "yaml";
import { type Command, usageError } from "../../cli.ts";
import { withNexus } from "../../connect.ts";
import { envNames, shellQuote } from "../../envnames.ts";
import { Exit } from "../../exit.ts";
import { checkUserOutput, writeUserFile } from "../../input.ts";
import { writeOut } from "../../output.ts";
import { checkPath, versionFlag } from "./args.ts";

/** `spike secret export`. */
export const exportCommand: Command = {
  name: "export",
  summary: "Print a secret for tools that want a file: env, json or yaml",
  usage: "PATH [-f env|json|yaml] [-o FILE] [-v VERSION]",
  help: "  -f, --format FORMAT   env (default), json or yaml\n" +
    "  -o, --out FILE        write to FILE, created or replaced with mode 0600\n" +
    "                        (a relative FILE is in the folder you are in)\n" +
    "  -v, --version N       a given version (default: the current one)\n\n" +
    "env: one NAME='value' per line (names upper-cased, other characters made _),\n" +
    "safe to source in a POSIX shell. Prefer -o to a shell redirect: > leaves the file\n" +
    "readable by others (mode 0644).",
  options: {
    format: { type: "string", short: "f", default: "env" },
    out: { type: "string", short: "o" },
    version: { type: "string", short: "v" },
  },
  async run({ values, positionals }) {
    const [rawPath, ...extra] = positionals;
    if (extra.length > 0) throw usageError(`unexpected argument: ${extra[0]}`);
    const path = checkPath(rawPath);
    const kind = String(values.format);
    if (!["env", "json", "yaml"].includes(kind)) {
      throw usageError(`invalid format '${kind}'; use env, json or yaml`);
    }
    const version = versionFlag(values.version);
    const out = values.out as string | undefined;
    if (out !== undefined) checkUserOutput(out, "--out");
    const data = await withNexus(
      "pilot-superuser",
      (nexus) => nexus.getSecret(path, version),
      { notFound: `secret ${path}${version ? ` version ${version}` : ""} not found` },
    );
    let text: string;
    if (kind === "json") text = JSON.stringify(data, null, 2) + "\n";
    else if (kind === "yaml") text = toYaml(data);
    else {
      const names = envNames([{ source: path, values: data }]);
      text = names.map(({ name, value }) => `${name}=${shellQuote(value)}\n`).join("");
    }
    const bytes = new TextEncoder().encode(text);
    try {
      if (out === undefined) writeOut(bytes);
      else await writeUserFile(out, "--out", bytes);
    } finally {
      bytes.fill(0);
    }
    return Exit.ok;
  },
};
