// Main-thread cost of each snapshot update (handler + the synchronous render
// that follows), kept for the end-to-end benchmark as window.__fleetdeckPerf.
// A plain ring of the last 1000 durations: cheap enough to stay on in
// production builds, which is what the benchmark should measure.

export interface PerfStats {
  count: number;
  median: number;
  p99: number;
  max: number;
}

export class PerfRecorder {
  readonly durations: number[] = [];
  /** Updates recorded since start (the array keeps only the last `keep`). */
  total = 0;
  constructor(private readonly keep = 1000) {}

  record(ms: number): void {
    this.durations.push(ms);
    if (this.durations.length > this.keep) this.durations.splice(0, this.durations.length - this.keep);
    this.total++;
  }

  reset(): void {
    this.durations.length = 0;
    this.total = 0;
  }

  stats(): PerfStats {
    const d = [...this.durations].sort((a, b) => a - b);
    const at = (q: number) => (d.length === 0 ? NaN : d[Math.min(d.length - 1, Math.floor(q * d.length))]!);
    return { count: d.length, median: at(0.5), p99: at(0.99), max: d.length ? d[d.length - 1]! : NaN };
  }
}

declare global {
  interface Window {
    __fleetdeckPerf?: PerfRecorder;
  }
}
