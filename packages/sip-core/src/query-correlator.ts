// Pending MANSCDP queries keyed by (device, CmdType, SN): the device answers with a bare 200 and
// later sends the real answer as new MESSAGE(s); this matches them up, with a timeout per query.
import { QueryTimeoutError } from './errors.ts';
import type { Collector } from './catalog-merger.ts';
import type { ManscdpMessage } from './manscdp-codec.ts';

interface Pending {
  deviceId: string;
  collector: Collector<unknown>;
  timer: NodeJS.Timeout;
  /** Restarts the timeout after progress (multi-message answers), within the hard cap. */
  progress?: () => void;
  finish(complete: boolean): void;
  fail(err: Error): void;
}

export class QueryCorrelator {
  readonly #pending = new Map<string, Pending>();
  #sn = Math.floor(Math.random() * 100_000) + 1;

  /** Fresh SN (one counter per server keeps (CmdType, SN) unique across devices too). */
  nextSn(): number {
    this.#sn = this.#sn >= 999_999_999 ? 1 : this.#sn + 1;
    return this.#sn;
  }

  /**
   * Waits for the answer to a query already sent (or about to be). On timeout resolves with the
   * partial result when something arrived, else rejects with QueryTimeoutError. With
   * `restartOnProgress` each answer message restarts the timeout (big catalogs trickle in one item
   * per message), but never beyond ten timeouts in all.
   */
  wait<T>(deviceId: string, cmdType: string, sn: number, timeoutMs: number, collector: Collector<T>, restartOnProgress = false): Promise<T> {
    const key = `${deviceId}|${cmdType}|${sn}`;
    const hardDeadline = Date.now() + 10 * timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const expire = () => {
        this.#pending.delete(key);
        if (collector.received) resolve(collector.result(false));
        else reject(new QueryTimeoutError(deviceId, cmdType, timeoutMs));
      };
      const p: Pending = {
        deviceId,
        collector,
        timer: setTimeout(expire, timeoutMs),
        progress: restartOnProgress
          ? () => {
              clearTimeout(p.timer);
              p.timer = setTimeout(expire, Math.max(0, Math.min(timeoutMs, hardDeadline - Date.now())));
            }
          : undefined,
        finish: (complete) => {
          clearTimeout(p.timer);
          this.#pending.delete(key);
          resolve(collector.result(complete));
        },
        fail: (err) => {
          clearTimeout(p.timer);
          this.#pending.delete(key);
          reject(err);
        },
      };
      this.#pending.set(key, p);
    });
  }

  /**
   * Offers an answer from `fromDeviceId` (the From user). Also tries the XML DeviceID: channel
   * queries (RecordInfo) are keyed by channel, and some NVRs answer with either id.
   */
  deliver(fromDeviceId: string, m: ManscdpMessage): boolean {
    if (m.sn === undefined) return false;
    let p = this.#pending.get(`${fromDeviceId}|${m.cmdType}|${m.sn}`);
    let key = `${fromDeviceId}|${m.cmdType}|${m.sn}`;
    if (!p && m.deviceId) {
      key = `${m.deviceId}|${m.cmdType}|${m.sn}`;
      p = this.#pending.get(key);
    }
    if (!p) return false;
    if (p.collector.add(m)) p.finish(true);
    else p.progress?.();
    return true;
  }

  /** Rejects one pending query (its request failed). */
  fail(deviceId: string, cmdType: string, sn: number, err: Error): void {
    this.#pending.get(`${deviceId}|${cmdType}|${sn}`)?.fail(err);
  }

  /** Rejects the pending queries of one device (deleted) or all of them (closing). */
  failAll(err: Error, deviceId?: string): void {
    for (const p of [...this.#pending.values()]) if (deviceId === undefined || p.deviceId === deviceId) p.fail(err);
  }
}
