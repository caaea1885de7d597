import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTimeline, localDate, mergeSpans, splitAtMidnight } from '../src/play/records-merge.ts';
import { toRecordItem, toUnixSeconds } from '../src/play/records.ts';

const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => Math.floor(new Date(y, mo - 1, d, h, mi, s).getTime() / 1000);

describe('mergeSpans', () => {
  test('merges overlapping and touching segments whatever their order', () => {
    const merged = mergeSpans([
      { start: 300, end: 400 },
      { start: 100, end: 200 },
      { start: 150, end: 250 },
      { start: 250, end: 260 },
      { start: 390, end: 395 },
    ]);
    assert.deepEqual(merged, [
      { start: 100, end: 260 },
      { start: 300, end: 400 },
    ]);
  });

  test('drops empty, reversed and non-numeric segments', () => {
    assert.deepEqual(mergeSpans([{ start: 5, end: 5 }, { start: 9, end: 3 }, { start: NaN, end: 4 }]), []);
  });
});

describe('splitAtMidnight', () => {
  test('cuts a segment at each local midnight it crosses', () => {
    const pieces = splitAtMidnight([{ start: at(2026, 3, 1, 23, 0), end: at(2026, 3, 3, 1, 0) }]);
    assert.deepEqual(pieces, [
      { start: at(2026, 3, 1, 23, 0), end: at(2026, 3, 2) },
      { start: at(2026, 3, 2), end: at(2026, 3, 3) },
      { start: at(2026, 3, 3), end: at(2026, 3, 3, 1, 0) },
    ]);
  });
});

describe('buildTimeline', () => {
  test('groups merged pieces by local date with daynum and timenum', () => {
    // Hundreds of one-minute segments, overlapping by 10 s, across midnight: as NVRs send them.
    const spans = [];
    for (let t = at(2026, 3, 1, 23, 30); t < at(2026, 3, 2, 0, 30); t += 60) spans.push({ start: t, end: t + 70 });
    spans.push({ start: at(2026, 3, 2, 8), end: at(2026, 3, 2, 9) });
    const tl = buildTimeline(spans);
    assert.equal(tl.daynum, 2);
    assert.equal(tl.timenum, 3);
    assert.deepEqual(tl.list.map((d) => d.date), ['2026-03-01', '2026-03-02']);
    assert.deepEqual(tl.list[0]!.items, [{ start: at(2026, 3, 1, 23, 30), end: at(2026, 3, 2) }]);
    assert.deepEqual(tl.list[1]!.items, [
      { start: at(2026, 3, 2), end: at(2026, 3, 2, 0, 30) + 10 },
      { start: at(2026, 3, 2, 8), end: at(2026, 3, 2, 9) },
    ]);
  });

  test('clips segments to the queried window', () => {
    const tl = buildTimeline([{ start: 1000, end: 5000 }], 2000, 3000);
    assert.deepEqual(tl.list.flatMap((d) => d.items), [{ start: 2000, end: 3000 }]);
  });

  test('an empty answer gives an empty timeline', () => {
    assert.deepEqual(buildTimeline([]), { daynum: 0, timenum: 0, list: [] });
  });
});

describe('record items', () => {
  test('toUnixSeconds reads the device local time format, Dates and numbers', () => {
    assert.equal(toUnixSeconds('2026-03-01T12:00:00'), at(2026, 3, 1, 12));
    assert.equal(toUnixSeconds('2026-03-01 12:00:00'), at(2026, 3, 1, 12));
    assert.equal(toUnixSeconds(new Date(at(2026, 3, 1) * 1000)), at(2026, 3, 1));
    assert.equal(toUnixSeconds(1700000000000), 1700000000);
    assert.ok(Number.isNaN(toUnixSeconds('garbage')));
  });

  test('toRecordItem maps MANSCDP fields and rejects items without a valid time range', () => {
    const item = toRecordItem({ DeviceID: '34020000001320000001', Name: 'cam', StartTime: '2026-03-01T10:00:00', EndTime: '2026-03-01T10:05:00', FileSize: '1234', Type: 'time' });
    assert.equal(item?.deviceid, '34020000001320000001');
    assert.equal(item?.end! - item?.start!, 300);
    assert.equal(item?.filesize, 1234);
    assert.equal(toRecordItem({ StartTime: '2026-03-01T10:00:00' }), null);
  });

  test('localDate formats YYYY-MM-DD in local time', () => {
    assert.equal(localDate(at(2026, 12, 31, 23, 59)), '2026-12-31');
  });
});
