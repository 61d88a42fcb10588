/**
 * Reading Prometheus text exposition (format 0.0.4) in tests: samples with their labels, the
 * metric families declared by `# TYPE`, and the metric names a PromQL expression uses.
 * Test support only: `src/` never imports it.
 */

/** One sample line: `name{label="value",…} value`. */
export type Sample = { name: string; labels: Record<string, string>; value: number };

/** A scrape: every sample, and every family name with its type (`counter`, `gauge`, `histogram`, …). */
export type Scrape = { samples: Sample[]; families: Map<string, string>; text: string };

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus text. @throws Error naming the first line that is neither a comment nor a sample. */
export function parsePrometheusText(text: string): Scrape {
  const samples: Sample[] = [];
  const families = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) families.set(type[1]!, type[2]!);
      continue;
    }
    const m = SAMPLE_LINE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(LABEL_PAIR)) labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, families, text };
}

/** Scrapes `url` and parses it. @throws Error when the answer is not HTTP 200. */
export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}: HTTP ${response.status}: ${text.slice(0, 200)}`);
  return parsePrometheusText(text);
}

/**
 * The value of the one sample named `name` whose labels include `labels`, or undefined when none.
 * @throws Error when several samples match (the test's labels are not specific enough).
 */
export function valueOf(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const matching = s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  if (matching.length > 1) throw new Error(`${matching.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return matching[0]?.value;
}

const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile', 'clamp_min', 'clamp_max', 'abs', 'time',
  'changes', 'resets', 'label_replace', 'vector', 'scalar', 'max_over_time', 'min_over_time', 'avg_over_time', 'last_over_time', 'timestamp', 'absent',
]);

/**
 * Metric names a PromQL expression selects: identifiers that are not functions, keywords,
 * label names inside `{…}` or `by (…)`, Grafana variables (`$x`) or durations (`[5m]`).
 * Good enough for dashboard queries; not a PromQL parser.
 */
export function metricNamesInPromQL(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals (label values, label_replace args)
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // grouping label lists
    .replace(/\$\{?[a-zA-Z_]\w*\}?/g, '') // Grafana variables
    .replace(/(^|[^\w.])\d+(\.\d+)?(e[+-]?\d+)?/gi, '$1'); // numbers (0.95, 1e9)
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const after = stripped.slice((m.index ?? 0) + word.length).trimStart();
    if (PROMQL_WORDS.has(word) || after.startsWith('(')) continue;
    if (/^(Inf|NaN)$/i.test(word)) continue;
    names.add(word);
  }
  return [...names].sort();
}

/** The family a sample name belongs to: `x_bucket`, `x_sum` and `x_count` belong to histogram `x`. */
export function familyOf(s: Scrape, sampleName: string): string | undefined {
  if (s.families.has(sampleName)) return sampleName;
  const base = sampleName.replace(/_(bucket|sum|count|total|created)$/, '');
  return s.families.has(base) ? base : undefined;
}
