import type { Metric, Registry } from 'prom-client';

/** One label value's series: observing is a bucket search and three additions. */
export interface HistogramSeries {
  observe(value: number): void;
}

/** A histogram with one label, exposed through a prom-client registry. */
export interface HotPathHistogram {
  /** The series of one label value, created on first use. */
  series(labelValue: string): HistogramSeries;
}

class Series implements HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly labelValue: string, private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    if (i < bounds.length) this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram of one label for the request path. prom-client's own `observe` hashes
 * the label set on every call (about 1 µs, once per proxied request); here a series is an array
 * of bucket counts held by the caller, and the registry renders it only when scraped — the same
 * exposition (`_bucket` cumulative with `le` first, `+Inf`, `_sum`, `_count`) as prom-client's.
 */
export function registerHotPathHistogram(registry: Registry, o: { name: string; help: string; labelName: string; buckets: readonly number[] }): HotPathHistogram {
  const bounds = Object.freeze([...o.buckets].sort((a, b) => a - b));
  const all = new Map<string, Series>();
  const values = (): Array<{ labels: Record<string, string | number>; value: number; metricName: string }> => {
    const out: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of all.values()) {
      let acc = 0;
      for (let i = 0; i < bounds.length; i++) {
        acc += s.counts[i] as number;
        out.push({ labels: { le: bounds[i] as number, [o.labelName]: s.labelValue }, value: acc, metricName: `${o.name}_bucket` });
      }
      out.push(
        { labels: { le: '+Inf', [o.labelName]: s.labelValue }, value: s.count, metricName: `${o.name}_bucket` },
        { labels: { [o.labelName]: s.labelValue }, value: s.sum, metricName: `${o.name}_sum` },
        { labels: { [o.labelName]: s.labelValue }, value: s.count, metricName: `${o.name}_count` },
      );
    }
    return out;
  };
  // What the registry reads of a metric when it renders or lists it (Registry#getMetricsAsString, #getMetricsAsJSON).
  const metric = {
    name: o.name,
    help: o.help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({ name: o.name, help: o.help, type: 'histogram', aggregator: 'sum', values: values() }),
    reset: () => all.clear(),
  };
  registry.registerMetric(metric as unknown as Metric);
  return {
    series(labelValue) {
      let s = all.get(labelValue);
      if (s === undefined) { s = new Series(labelValue, bounds); all.set(labelValue, s); }
      return s;
    },
  };
}
