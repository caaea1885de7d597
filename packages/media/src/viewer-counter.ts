export type ViewerProtocol = 'rtmp' | 'flv' | 'hls';

export interface ViewerCounterOptions {
  /** A HLS client counts as watching this long after its last request. */
  hlsWindowMs: number;
  /** `onNoViewers` fires once the count has been zero for this long (since creation or the last viewer). */
  noViewerCloseMs: number;
  onChange: (viewers: number) => void;
  onNoViewers: () => void;
  now?: () => number;
}

/**
 * Viewers of one stream: persistent players (RTMP, HTTP-FLV, WS-FLV sessions) plus HLS clients,
 * which have no connection and count while they keep fetching. `tick()` expires HLS clients and
 * drives the no-viewer timeout, so a stream needs no timers of its own.
 */
export class ViewerCounter {
  readonly #players = new Map<string, ViewerProtocol>();
  readonly #hls = new Map<string, number>();
  readonly #opts: ViewerCounterOptions;
  readonly #now: () => number;
  #zeroSince: number;
  #noViewersFired = false;
  #last = 0;

  constructor(opts: ViewerCounterOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#zeroSince = this.#now();
  }

  get count(): number {
    return this.#players.size + this.#hls.size;
  }

  byProtocol(): Record<ViewerProtocol, number> {
    const out: Record<ViewerProtocol, number> = { rtmp: 0, flv: 0, hls: this.#hls.size };
    for (const p of this.#players.values()) out[p]++;
    return out;
  }

  addPlayer(sessionId: string, protocol: 'rtmp' | 'flv'): void {
    this.#players.set(sessionId, protocol);
    this.#update();
  }

  removePlayer(sessionId: string): void {
    if (this.#players.delete(sessionId)) this.#update();
  }

  /** A HLS request from `clientKey` (address + user agent). */
  /** An HLS client seen within the window. */
  watchingHls(clientKey: string): boolean {
    return this.#hls.has(clientKey);
  }

  touchHls(clientKey: string): void {
    const isNew = !this.#hls.has(clientKey);
    this.#hls.set(clientKey, this.#now());
    if (isNew) this.#update();
  }

  tick(): void {
    const now = this.#now();
    let expired = false;
    for (const [key, at] of this.#hls) {
      if (now - at > this.#opts.hlsWindowMs) {
        this.#hls.delete(key);
        expired = true;
      }
    }
    if (expired) this.#update();
    if (this.count === 0 && !this.#noViewersFired && now - this.#zeroSince >= this.#opts.noViewerCloseMs) {
      this.#noViewersFired = true;
      this.#opts.onNoViewers();
    }
  }

  #update(): void {
    const n = this.count;
    if (n === this.#last) return;
    if (n === 0) {
      this.#zeroSince = this.#now();
      this.#noViewersFired = false;
    }
    this.#last = n;
    this.#opts.onChange(n);
  }
}
