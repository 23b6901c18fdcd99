// Main-thread cost of each snapshot update (handler + the synchronous render
// that follows), kept for the end-to-end benchmark as window.__fleetdeckPerf.
// A plain ring of the last 1000 durations: cheap enough to stay on in
// production builds, which is what the benchmark should measure.

export interface PerfStats {
  count: number;
  median: number;
  p99: number;
  max: number;
  /** Of which: decoding the message before the store saw it (JSON.parse over HTTP). */
  decodeMedian: number;
  /** Chart redraws (one per visible chart per update, in animation frames). */
  chartCount: number;
  chartMedian: number;
  chartP99: number;
}

export class PerfRecorder {
  readonly durations: number[] = [];
  /**
   * Benchmark hook: fill the chart history with `seconds` of rows derived
   * from the latest snapshot, so "charts holding an hour of 1 s data" can be
   * measured without waiting an hour. Set by the store.
   */
  backfill: (seconds: number) => number = () => 0;
  /** Updates recorded since start (the array keeps only the last `keep`). */
  total = 0;
  constructor(private readonly keep = 1000) {}

  /** Decode part of each duration, same order. */
  readonly decode: number[] = [];
  /**
   * Chart redraws. Charts redraw in the next animation frame after an update
   * (at most once per frame, never while the window is hidden), so their
   * canvas work is a separate main-thread slice from the snapshot update; it
   * is recorded here so a benchmark can add it up.
   */
  readonly charts: number[] = [];

  recordChart(ms: number): void {
    this.charts.push(ms);
    if (this.charts.length > this.keep) this.charts.splice(0, this.charts.length - this.keep);
  }

  record(ms: number, decodeMs = 0): void {
    this.durations.push(ms);
    this.decode.push(decodeMs);
    if (this.durations.length > this.keep) {
      this.durations.splice(0, this.durations.length - this.keep);
      this.decode.splice(0, this.decode.length - this.keep);
    }
    this.total++;
  }

  reset(): void {
    this.durations.length = 0;
    this.decode.length = 0;
    this.charts.length = 0;
    this.total = 0;
  }

  stats(): PerfStats {
    const d = [...this.durations].sort((a, b) => a - b);
    const at = (q: number) => (d.length === 0 ? NaN : d[Math.min(d.length - 1, Math.floor(q * d.length))]!);
    const dec = [...this.decode].sort((a, b) => a - b);
    const ch = [...this.charts].sort((a, b) => a - b);
    const q = (arr: number[], p: number) => (arr.length === 0 ? NaN : arr[Math.min(arr.length - 1, Math.floor(p * arr.length))]!);
    return {
      count: d.length,
      median: at(0.5),
      p99: at(0.99),
      max: d.length ? d[d.length - 1]! : NaN,
      decodeMedian: q(dec, 0.5),
      chartCount: ch.length,
      chartMedian: q(ch, 0.5),
      chartP99: q(ch, 0.99),
    };
  }
}

declare global {
  interface Window {
    __fleetdeckPerf?: PerfRecorder;
  }
}
