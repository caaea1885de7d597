// Cuts a TCP byte stream into SIP messages by Content-Length (RFC 3261 §18.3), skipping
// CRLF keepalive pings and junk before a start line, refusing oversized headers or bodies.
import { MAX_HEADER_BYTES } from './message-codec.ts';

/** Largest body we accept over a stream (catalogs of big NVRs are a few hundred KB at most). */
export const MAX_STREAM_BODY_BYTES = 1024 * 1024;

const START_LINE = /(?:^|\n)(?=[A-Za-z][\w\-.!%*+`'~]* \S+ SIP\/2\.0\r?\n|SIP\/2\.0 \d{3} )/;
const START_LINE_ONLY = /^(?:[A-Za-z][\w\-.!%*+`'~]* \S+ SIP\/2\.0\r?|SIP\/2\.0 \d{3}\b.*)$/;
const NEXT_START = /(?<=[\n>])(?=[A-Z]+ sips?:\S+ SIP\/2\.0\r?\n|SIP\/2\.0 \d{3} )/;
const CONTENT_LENGTH = /^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$/im;

export interface FramerSink {
  message(raw: Buffer): void;
  /** Fatal for the connection: the stream cannot be resynchronised safely. */
  error(reason: string, head?: Buffer): void;
  /** Bytes dropped before a start line (logged by the owner). */
  skipped(bytes: number): void;
}

export class StreamFramer {
  #buf: Buffer = Buffer.alloc(0);
  #closed = false;

  #flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sink: FramerSink,
    /** A message whose body stays short of its Content-Length this long is delivered as it is. */
    private readonly incompleteFlushMs = 1000,
  ) {}

  push(chunk: Buffer): void {
    if (this.#closed) return;
    if (this.#flushTimer) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    while (!this.#closed && this.#next()) {
      /* keep cutting */
    }
  }

  /** One message cut from the front of the buffer; false when more bytes are needed. */
  #next(): boolean {
    let buf = this.#buf;
    let start = 0;
    while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
    if (start === buf.length) {
      this.#buf = Buffer.alloc(0);
      return false;
    }
    const lineEnd = buf.indexOf(0x0a, start);
    if (lineEnd === -1) {
      this.#buf = buf.subarray(start);
      if (this.#buf.length > MAX_HEADER_BYTES) this.#fail('start line too long', this.#buf.subarray(0, 256));
      return false;
    }
    if (!START_LINE_ONLY.test(buf.toString('latin1', start, lineEnd))) {
      const text = buf.toString('latin1', start);
      const m = START_LINE.exec(text);
      if (!m) {
        // Keep a tail in case a start line is split across reads.
        const keep = Math.min(buf.length - start, 512);
        this.sink.skipped(buf.length - start - keep);
        this.#buf = buf.subarray(buf.length - keep);
        return false;
      }
      const at = m.index + (text[m.index] === '\n' ? 1 : 0);
      this.sink.skipped(at);
      start += at;
    }
    buf = buf.subarray(start);
    const crlf = buf.indexOf('\r\n\r\n');
    const lf = buf.indexOf('\n\n');
    let headEnd = -1;
    let sepLen = 0;
    if (crlf !== -1 && (lf === -1 || crlf < lf)) {
      headEnd = crlf;
      sepLen = 4;
    } else if (lf !== -1) {
      headEnd = lf;
      sepLen = 2;
    }
    if (headEnd === -1) {
      this.#buf = buf;
      if (buf.length > MAX_HEADER_BYTES) {
        this.#fail(`header section over ${MAX_HEADER_BYTES} bytes`, buf.subarray(0, 2048));
      }
      return false;
    }
    if (headEnd > MAX_HEADER_BYTES) {
      this.#fail(`header section over ${MAX_HEADER_BYTES} bytes`, buf.subarray(0, headEnd));
      return false;
    }
    const head = buf.toString('latin1', 0, headEnd);
    const cl = CONTENT_LENGTH.exec(head);
    const length = cl ? Number(cl[1]) : 0;
    if (length > MAX_STREAM_BODY_BYTES) {
      this.#fail(`Content-Length ${cl![1]} over ${MAX_STREAM_BODY_BYTES}`, buf.subarray(0, headEnd));
      return false;
    }
    const total = headEnd + sepLen + length;
    if (buf.length < total) {
      // A Content-Length larger than the body: the next message shows up inside "the body".
      const bodyStart = headEnd + sepLen;
      const next = NEXT_START.exec(buf.toString('latin1', bodyStart));
      if (next) {
        const cut = bodyStart + next.index;
        this.#buf = buf.subarray(cut);
        this.sink.message(buf.subarray(0, cut));
        return true;
      }
      this.#buf = buf;
      this.#armFlush();
      return false;
    }
    this.#buf = buf.subarray(total);
    this.sink.message(buf.subarray(0, total));
    return true;
  }

  #armFlush(): void {
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      if (this.#closed || this.#buf.length === 0) return;
      const partial = this.#buf;
      this.#buf = Buffer.alloc(0);
      this.sink.message(partial);
    }, this.incompleteFlushMs);
    this.#flushTimer.unref();
  }

  close(): void {
    this.#closed = true;
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#buf = Buffer.alloc(0);
  }

  #fail(reason: string, head: Buffer): void {
    this.#closed = true;
    this.#buf = Buffer.alloc(0);
    this.sink.error(reason, head);
  }
}
