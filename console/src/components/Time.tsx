/** A moment shown relative to now ("3 min ago"), with its absolute UTC time on hover and for machines. */
import { relative, utc } from "./format";

export function Time({ iso, now }: { iso: string | undefined; now: number }) {
  if (!iso) return <span>–</span>;
  return (
    <time dateTime={iso} title={utc(iso)}>
      {relative(iso, now)}
    </time>
  );
}
