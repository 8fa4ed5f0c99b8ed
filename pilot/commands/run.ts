/**
 * `spike run --secret PATH ... -- CMD ARGS...`: runs CMD with the keys of the
 * secrets as environment variables (see `envnames.ts`), passes its exit code
 * through, and writes nothing to disk. Only this command may start programs:
 * every other command drops that permission at start.
 *
 * @module
 */

import { ApiResponseError } from "../../lib/client/errors.ts";
import { CliError, type Command, usageError } from "../cli.ts";
import { withNexus } from "../connect.ts";
import { envNames } from "../envnames.ts";
import { Exit } from "../exit.ts";

const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/** `spike run`. */
export const runCommand: Command = {
  name: "run",
  summary: "Run a command with secrets as environment variables",
  usage: "--secret PATH [--secret PATH ...] -- COMMAND [ARGS...]",
  help: "Each key of each secret becomes a variable: upper-cased, other characters made _\n" +
    "(db-user becomes DB_USER). Two keys with the same variable name are refused. The\n" +
    "command's exit code is passed through; nothing is written to disk.\n\n" +
    "Your shell expands $NAME before spike runs, so a command that uses a variable goes\n" +
    "through sh -c with single quotes:\n\n" +
    "Example: spike run --secret tenants/demo/db -- sh -c 'psql -U \"$USER\"'",
  options: { secret: { type: "string", short: "s", multiple: true } },
  async run({ values, positionals }) {
    const paths = (values.secret as string[] | undefined) ?? [];
    if (paths.length === 0) throw usageError("give at least one --secret PATH");
    const [command, ...args] = positionals;
    if (command === undefined) throw usageError("give the command to run after --");
    const secrets = await withNexus("pilot-superuser", async (nexus) => {
      const out = [];
      for (const path of paths) {
        try {
          out.push({ source: path, values: await nexus.getSecret(path) });
        } catch (e) {
          if (e instanceof ApiResponseError && e.code === "api_not_found") {
            throw new CliError(`secret ${path} (given with --secret) not found`, Exit.notFound);
          }
          throw e;
        }
      }
      return out;
    });
    const env = Object.fromEntries(envNames(secrets).map(({ name, value }) => [name, value]));

    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(command, {
        args,
        env,
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new CliError(`command not found: ${command}`, 127);
      }
      throw e;
    }
    // The child gets the signals we get; we wait for it and pass its outcome on.
    const forward = SIGNALS.map((signal) => {
      const handler = () => {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
      };
      Deno.addSignalListener(signal, handler);
      return () => Deno.removeSignalListener(signal, handler);
    });
    const status = await child.status;
    for (const off of forward) off();
    return status.code;
  },
};
