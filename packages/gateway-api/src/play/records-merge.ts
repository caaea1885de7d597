// Turns the RecordInfo segments a device sent (often hundreds of small, overlapping ones, across
// many MESSAGEs) into the day-by-day timeline the API returns.

export interface TimeSpan {
  start: number; // Unix s
  end: number;
}

export interface DayTimeline {
  daynum: number; // days that hold a recording
  timenum: number; // spans across all days, after merging and splitting
  list: { date: string; items: TimeSpan[] }[];
}

/** Merges overlapping and touching spans; drops empty or reversed ones. Input order does not matter. */
export function mergeSpans(spans: readonly TimeSpan[]): TimeSpan[] {
  const sorted = spans
    .filter((s) => Number.isFinite(s.start) && Number.isFinite(s.end) && s.end > s.start)
    .map((s) => ({ start: s.start, end: s.end }))
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const out: TimeSpan[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push(s);
  }
  return out;
}

/** Local midnight (process time zone, as devices report local time) at or after `t`. */
function nextLocalMidnight(t: number): number {
  const d = new Date(t * 1000);
  d.setHours(24, 0, 0, 0);
  return Math.floor(d.getTime() / 1000);
}

export function localDate(t: number): string {
  const d = new Date(t * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Splits spans that cross local midnight so each piece belongs to one calendar day. */
export function splitAtMidnight(spans: readonly TimeSpan[]): TimeSpan[] {
  const out: TimeSpan[] = [];
  for (const s of spans) {
    let start = s.start;
    while (start < s.end) {
      const cut = Math.min(nextLocalMidnight(start), s.end);
      out.push({ start, end: cut });
      start = cut;
    }
  }
  return out;
}

/** Clips spans to the queried window: devices answer with segments that begin before it. */
export function clipSpans(spans: readonly TimeSpan[], from: number, to: number): TimeSpan[] {
  return spans
    .map((s) => ({ start: Math.max(s.start, from), end: Math.min(s.end, to) }))
    .filter((s) => s.end > s.start);
}

export function buildTimeline(spans: readonly TimeSpan[], from?: number, to?: number): DayTimeline {
  let merged = mergeSpans(spans);
  if (from !== undefined && to !== undefined) merged = clipSpans(merged, from, to);
  const pieces = splitAtMidnight(merged);
  const days = new Map<string, TimeSpan[]>();
  for (const p of pieces) {
    const date = localDate(p.start);
    let items = days.get(date);
    if (!items) days.set(date, (items = []));
    items.push(p);
  }
  const list = [...days.entries()].map(([date, items]) => ({ date, items }));
  return { daynum: list.length, timenum: pieces.length, list };
}
