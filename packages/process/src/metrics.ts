/**
 * Prometheus text as numbers: what the metrics stories and `make status` read from a scrape. The exposition
 * format's sample lines (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format):
 * `name{label="value",...} number [timestamp]`, label values with \\, \" and \n escaped; # lines are comments.
 * (parse-prometheus-text-format was tried: it folds every label set of a histogram into one, losing the labels.)
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  /** Every sample name (histograms as their _bucket, _sum and _count series). */
  names(): string[];
  /**
   * The sum of every sample of `name` whose labels include `labels` (a counter or gauge; for a histogram, its
   * `_count`). Undefined when no sample matches: an absent series is not a zero.
   */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Each sample of `name` (a histogram: its `_count` series) with its labels and value. */
  samples(name: string): Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

/** Parses one scrape; lines that are not samples (comments, blanks, malformed) are skipped. */
export function parseScrape(text: string): Scrape {
  const all: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line.trim());
    if (!m) continue;
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    for (let l = LABEL.exec(m[2] ?? ''); l; l = LABEL.exec(m[2] ?? '')) labels[l[1]!] = unescape(l[2]!);
    all.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const byName = new Map<string, Sample[]>();
  for (const s of all) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const samples = (name: string) => byName.get(name) ?? byName.get(`${name}_count`) ?? [];
  return {
    names: () => [...byName.keys()],
    samples,
    value(name, labels = {}) {
      const matching = samples(name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      return matching.length ? matching.reduce((sum, s) => sum + s.value, 0) : undefined;
    },
  };
}
