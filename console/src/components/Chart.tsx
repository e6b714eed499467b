/**
 * A small bar chart in plain SVG (a chart library would weigh more than everything it draws here):
 * one bar per time bucket, a baseline, the largest value labelled, and a sentence for screen readers.
 */
export interface ChartPoint {
  /** Bucket start, epoch ms. */
  t: number;
  /** Undefined: no observation in the bucket (drawn as a gap, not as zero). */
  value: number | undefined;
}

export interface BarChartProps {
  title: string;
  points: ChartPoint[];
  format: (v: number) => string;
  /** How a bucket's time reads in the summary ("10:00", "Dec 3"). */
  bucketLabel: (t: number) => string;
  tone?: "accent" | "danger" | "ok";
}

const W = 320;
const H = 96;
const PAD = 14;

export function BarChart({ title, points, format, bucketLabel, tone = "accent" }: BarChartProps) {
  const values = points.flatMap((p) => (p.value === undefined ? [] : [p.value]));
  const max = Math.max(0, ...values);
  const peak = points.find((p) => p.value === max && max > 0);
  const summary =
    values.length === 0
      ? `${title}: no data in this range.`
      : `${title}: ${values.length} of ${points.length} buckets have data; highest ${format(max)}${peak ? ` at ${bucketLabel(peak.t)}` : ""}.`;
  const bw = (W - 2) / Math.max(points.length, 1);
  return (
    <figure className="chart">
      <figcaption>
        {title}
        <span className="muted"> {values.length === 0 ? "no data" : `max ${format(max)}`}</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} className={`chart-svg tone-${tone}`} preserveAspectRatio="none">
        <line x1={0} x2={W} y1={H - 1} y2={H - 1} className="chart-base" />
        {points.map((p, i) => {
          if (p.value === undefined) return null;
          const h = max > 0 ? Math.max(((H - PAD) * p.value) / max, p.value > 0 ? 2 : 0) : 0;
          return (
            <rect key={p.t} x={1 + i * bw + bw * 0.1} y={H - 1 - h} width={Math.max(bw * 0.8, 1)} height={h} className="chart-bar">
              <title>{`${bucketLabel(p.t)}: ${format(p.value)}`}</title>
            </rect>
          );
        })}
      </svg>
    </figure>
  );
}
