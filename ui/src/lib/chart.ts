/** One line of a chart. */
export interface ChartSeries {
  label: string;
  color?: string;
  /** Dashed (limits such as pool_size / max_connections). */
  dash?: boolean;
}
