/**
 * `deno task test`: every test file in its own `deno test` process, two at a
 * time (`DENO_JOBS` to change it), each file's output printed whole when it
 * ends, then one summary line in Deno's own shape.
 *
 * Why not one `deno test --parallel`: that runs every file in one process, and
 * Deno 2.9.6 itself sometimes crashes (a segfault in its runtime threads, seen
 * in the kernel log with no test at fault, and the nghttp2 abort described in
 * the README). One crash then took every file's results with it. Here a crash
 * costs one file, which is run once more, and both runs are reported; a second
 * crash counts as a failure.
 *
 *   deno task test [FILE_OR_FOLDER...]
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const JOBS = Number(Deno.env.get("DENO_JOBS") ?? 2);
const TEST_FILE = /(^|[._])test\.(ts|tsx|js|mjs)$/;
const SKIP = new Set(["node_modules", ".spike", "dist", ".git", "test-output"]);
const SUMMARY = /^(ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed/m;

/** Every file below `dir`, skipping folders named in `skip`. */
async function* walk(dir: string, skip: Set<string>): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir.replace(/\/$/, "")}/${entry.name}`;
    if (entry.isDirectory && !skip.has(entry.name)) yield* walk(path, skip);
    else if (entry.isFile) yield path;
  }
}

/** The test files under `paths` (default: the checkout), sorted. */
async function testFiles(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths.length > 0 ? paths : [ROOT]) {
    const info = await Deno.stat(path);
    if (info.isFile) {
      files.push(path);
      continue;
    }
    for await (const file of walk(path, SKIP)) {
      // Never this runner itself: run as a test, it would start every test again.
      if (TEST_FILE.test(file.split("/").at(-1)!) && file !== import.meta.filename) {
        files.push(file);
      }
    }
  }
  return files.sort();
}

interface FileResult {
  passed: number;
  failed: number;
  steps: number;
  /** The process ended without Deno's summary (killed by a signal, a runtime crash). */
  crashed: boolean;
  output: string;
}

async function runFile(file: string): Promise<FileResult> {
  // `deno` by name: the task grants exactly that (`--allow-run=deno`).
  const out = await new Deno.Command("deno", {
    // Type-checked once for all files, below.
    args: ["test", "--allow-all", "--unstable-kv", "--no-check", file],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  // stderr first: Deno says "Check ..." there before the tests run.
  const output = decoder.decode(out.stderr) + decoder.decode(out.stdout);
  const summary = SUMMARY.exec(output);
  if (!summary) {
    const why = out.signal ? `signal ${out.signal}` : `exit code ${out.code}`;
    return { passed: 0, failed: 1, steps: 0, crashed: true, output: `${output}\n(${why})` };
  }
  return {
    passed: Number(summary[2]),
    steps: Number(summary[3] ?? 0),
    failed: Number(summary[4]) + (out.success || Number(summary[4]) > 0 ? 0 : 1),
    crashed: false,
    output,
  };
}

const started = performance.now();
const files = await testFiles(Deno.args.map((a) => a.startsWith("/") ? a : `${ROOT}${a}`));
// One type check of every file's graph, as `deno test` would do, but once instead of per file.
const check = await new Deno.Command("deno", {
  args: ["check", "--unstable-kv", ...files],
  cwd: ROOT,
  env: { NO_COLOR: "1" },
}).output();
await Deno.stderr.write(check.stderr);
if (!check.success) {
  console.log("FAILED | 0 passed | 1 failed (the type check failed)");
  Deno.exit(1);
}

const totals = { passed: 0, failed: 0, steps: 0 };
const failedFiles: string[] = [];
const crashedOnce: string[] = [];
let next = 0;

async function worker(): Promise<void> {
  while (next < files.length) {
    const file = files[next++];
    const name = file.startsWith(ROOT) ? file.slice(ROOT.length) : file;
    let result = await runFile(file);
    if (result.crashed) {
      console.log(`${result.output}\n=== ${name}: the test process crashed; running it once more`);
      crashedOnce.push(name);
      result = await runFile(file);
    }
    console.log(`=== ${name}\n${result.output.trimEnd()}\n`);
    totals.passed += result.passed;
    totals.failed += result.failed;
    totals.steps += result.steps;
    if (result.failed > 0) failedFiles.push(name);
  }
}

await Promise.all(Array.from({ length: Math.max(1, JOBS) }, worker));
const seconds = Math.round((performance.now() - started) / 1000);
if (crashedOnce.length > 0) {
  console.log(`test processes that crashed and were run again: ${crashedOnce.join(", ")}`);
}
if (failedFiles.length > 0) console.log(`files with failures: ${failedFiles.join(", ")}`);
console.log(
  `${totals.failed === 0 ? "ok" : "FAILED"} | ${totals.passed} passed (${totals.steps} steps) | ` +
    `${totals.failed} failed (${files.length} files, ${seconds}s)`,
);
Deno.exit(totals.failed === 0 ? 0 : 1);
