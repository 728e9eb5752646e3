// Prometheus text exposition (format 0.0.4): counters, gauges and histograms as client_golang
// exposes them, shared by the components' /metrics endpoints.
import type http from 'node:http';
import { createHttpServer } from './httpserver.ts';

export type Labels = Record<string, string>;
export const labelText = (l: Labels) => {
  const e = Object.entries(l);
  return e.length ? `{${e.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`).join(',')}}` : '';
};

export interface Metric {
  name: string;
  expose(): string;
}

export class Counter implements Metric {
  /** value by label text */
  private values = new Map<string, { v: number }>();
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: 'counter' | 'gauge' = 'counter',
  ) {}
  inc(by = 1, labels: Labels = {}): void {
    this.incKey(labelText(labels), by);
  }
  /** `key` is a label text made once by the caller (labelText), which keeps hot paths cheap. */
  incKey(key: string, by: number): void {
    this.cellKey(key).v += by;
  }
  /** The series' value cell, to increment without a lookup per event. */
  cell(labels: Labels): { v: number } {
    return this.cellKey(labelText(labels));
  }
  private cellKey(key: string): { v: number } {
    let c = this.values.get(key);
    if (!c) this.values.set(key, (c = { v: 0 }));
    return c;
  }
  set(v: number, labels: Labels = {}): void {
    this.cellKey(labelText(labels)).v = v;
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.v ?? 0;
  }
  expose(): string {
    const head = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n`;
    // An unlabelled counter or gauge is exposed (as 0) before its first change, as client_golang does.
    const rows: [string, number][] = this.values.size ? [...this.values].map(([k, c]) => [k, c.v]) : this.labelled ? [] : [['', 0]];
    return rows.length ? head + rows.map(([k, v]) => `${this.name}${k} ${v}\n`).join('') : '';
  }
  labelled = false;
}

export class Histogram implements Metric {
  private counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly buckets: number[],
  ) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) this.counts[i]!++;
  }
  get observations(): number {
    return this.count;
  }
  expose(): string {
    return (
      `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n` +
      this.buckets.map((b, i) => `${this.name}_bucket{le="${b}"} ${this.counts[i]}\n`).join('') +
      `${this.name}_bucket{le="+Inf"} ${this.count}\n${this.name}_sum ${this.sum}\n${this.name}_count ${this.count}\n`
    );
  }
}

export const exponential = (start: number, factor: number, n: number) => Array.from({ length: n }, (_, i) => start * factor ** i);
export const linear = (start: number, width: number, n: number) => Array.from({ length: n }, (_, i) => start + width * i);


export interface HistogramCell {
  counts: number[];
  sum: number;
  count: number;
}

/** A histogram with labels; each label set is a series of its own. */
export class HistogramVec implements Metric {
  private series = new Map<string, HistogramCell>();
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly buckets: number[],
  ) {}
  observe(v: number, labels: Labels): void {
    this.observeKey(v, labelText(labels));
  }
  /** `key` is a label text made once by the caller (labelText), which keeps hot paths cheap. */
  observeKey(v: number, key: string): void {
    this.observeCell(this.cellKey(key), v);
  }
  /** The series' cell, to observe into without a lookup per event. */
  cell(labels: Labels): HistogramCell {
    return this.cellKey(labelText(labels));
  }
  private cellKey(key: string): HistogramCell {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    return s;
  }
  observeCell(s: HistogramCell, v: number): void {
    s.sum += v;
    s.count++;
    const b = this.buckets;
    for (let i = b.length - 1; i >= 0 && v <= b[i]!; i--) s.counts[i]!++;
  }
  count(labels: Labels): number {
    return this.series.get(labelText(labels))?.count ?? 0;
  }
  expose(): string {
    if (!this.series.size) return '';
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    for (const [key, s] of [...this.series].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const inner = key ? key.slice(1, -1) + ',' : '';
      for (let i = 0; i < this.buckets.length; i++) out += `${this.name}_bucket{${inner}le="${this.buckets[i]}"} ${s.counts[i]}\n`;
      out += `${this.name}_bucket{${inner}le="+Inf"} ${s.count}\n${this.name}_sum${key} ${s.sum}\n${this.name}_count${key} ${s.count}\n`;
    }
    return out;
  }
}

/** Serves `expose()` at /metrics, and text pages at the `extra` paths (404 elsewhere). */
export function serveMetrics(expose: () => string, host: string, port: number, log: (s: string) => void, extra: Record<string, (query: URLSearchParams) => string> = {}): http.Server {
  const server = createHttpServer((_req, res, target) => {
    const page = extra[target.pathname];
    if (page) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(page(target.query));
      return;
    }
    if (target.pathname !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(expose());
  }, {}, log);
  server.on('error', (e) => log(`metrics server on ${host}:${port}: ${e.message}`));
  server.listen(port, host);
  return server;
}
