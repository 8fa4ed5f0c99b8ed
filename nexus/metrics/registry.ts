/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * written in the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). The
 * format is a few lines of escaping and ordering; the npm clients pull in
 * Node's cluster and process internals we do not need. Label names are
 * fixed per metric at definition; values are escaped as the format says.
 *
 * @module
 */

/** The content type of the text format this registry writes. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** A sample value as the format spells it (`+Inf`, `NaN`, ...). */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function labelText(names: readonly string[], values: readonly string[], extra = ""): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i])}"`);
  if (extra) parts.push(extra);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

interface Metric {
  readonly name: string;
  /** HELP, TYPE and samples, each line ending in a newline. */
  write(out: string[]): void | Promise<void>;
}

abstract class Labelled<Child> implements Metric {
  readonly #children = new Map<string, { values: string[]; child: Child }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram",
    readonly labelNames: readonly string[],
  ) {
    if (!NAME.test(name)) throw new TypeError(`invalid metric name ${name}`);
    for (const l of labelNames) {
      if (!LABEL.test(l) || l.startsWith("__") || l === "le") {
        throw new TypeError(`invalid label name ${l}`);
      }
    }
  }

  protected abstract create(): Child;
  protected abstract sample(out: string[], labels: string[], child: Child): void;

  /** The series for these label values (one per label name, in order). */
  protected child(values: readonly string[]): Child {
    if (values.length !== this.labelNames.length) {
      throw new TypeError(`${this.name} takes ${this.labelNames.length} label values`);
    }
    const key = JSON.stringify(values);
    let entry = this.#children.get(key);
    if (!entry) {
      entry = { values: [...values], child: this.create() };
      this.#children.set(key, entry);
    }
    return entry.child;
  }

  /** Drops every series (a gauge set afresh at each scrape). */
  reset(): void {
    this.#children.clear();
  }

  write(out: string[]): void {
    out.push(
      `# HELP ${this.name} ${escapeHelp(this.help)}\n`,
      `# TYPE ${this.name} ${this.type}\n`,
    );
    for (const { values, child } of this.#children.values()) this.sample(out, values, child);
  }
}

/** A value that only goes up. */
export class Counter extends Labelled<{ value: number }> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    if (!name.endsWith("_total")) throw new TypeError(`counter ${name} must end in _total`);
    super(name, help, "counter", labelNames);
  }
  protected create() {
    return { value: 0 };
  }
  protected sample(out: string[], labels: string[], child: { value: number }) {
    out.push(`${this.name}${labelText(this.labelNames, labels)} ${formatValue(child.value)}\n`);
  }
  /** Adds `by` (default 1, never negative) to the series with these label values. */
  inc(labels: readonly string[] = [], by = 1): void {
    if (!(by >= 0)) throw new RangeError("a counter only goes up");
    this.child(labels).value += by;
  }
}

/** A value that goes up and down. */
export class Gauge extends Labelled<{ value: number }> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, "gauge", labelNames);
  }
  protected create() {
    return { value: 0 };
  }
  protected sample(out: string[], labels: string[], child: { value: number }) {
    out.push(`${this.name}${labelText(this.labelNames, labels)} ${formatValue(child.value)}\n`);
  }
  /** Sets the series with these label values. */
  set(labels: readonly string[], value: number): void {
    this.child(labels).value = value;
  }
}

interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram extends Labelled<HistogramSeries> {
  readonly buckets: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    super(name, help, "histogram", labelNames);
    if (buckets.length === 0 || buckets.some((b, i) => i > 0 && b <= buckets[i - 1])) {
      throw new TypeError(`${name}: buckets must be increasing`);
    }
    this.buckets = buckets.filter((b) => b !== Infinity);
  }
  protected create(): HistogramSeries {
    return { counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
  }
  protected sample(out: string[], labels: string[], s: HistogramSeries) {
    let cumulative = 0;
    this.buckets.forEach((bound, i) => {
      cumulative += s.counts[i];
      const le = `le="${formatValue(bound)}"`;
      out.push(`${this.name}_bucket${labelText(this.labelNames, labels, le)} ${cumulative}\n`);
    });
    const inf = labelText(this.labelNames, labels, 'le="+Inf"');
    out.push(`${this.name}_bucket${inf} ${s.count}\n`);
    out.push(`${this.name}_sum${labelText(this.labelNames, labels)} ${formatValue(s.sum)}\n`);
    out.push(`${this.name}_count${labelText(this.labelNames, labels)} ${s.count}\n`);
  }
  /** Records one observation (seconds, for a latency) in the series with these label values. */
  observe(labels: readonly string[], value: number): void {
    const s = this.child(labels);
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
}

/** Latency buckets in seconds, from 0.5 ms to 10 s. */
export const LATENCY_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** A set of metrics, and collectors run before each exposition (to refresh gauges). */
export class Registry {
  readonly #metrics: Metric[] = [];
  readonly #collectors: (() => void | Promise<void>)[] = [];

  /** Adds a metric; its name must be new. */
  register<M extends Metric>(metric: M): M {
    if (this.#metrics.some((m) => m.name === metric.name)) {
      throw new TypeError(`metric ${metric.name} is registered twice`);
    }
    this.#metrics.push(metric);
    return metric;
  }

  /** Runs `collect` before each exposition (it sets gauges from current state). */
  onCollect(collect: () => void | Promise<void>): void {
    this.#collectors.push(collect);
  }

  /** Every metric in the text format. */
  async expose(): Promise<string> {
    for (const collect of this.#collectors) await collect();
    const out: string[] = [];
    for (const metric of this.#metrics) await metric.write(out);
    return out.join("");
  }
}
