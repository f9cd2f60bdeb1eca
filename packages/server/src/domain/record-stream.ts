import { isUtf8 } from 'node:buffer';
import { BadRequestError, PayloadTooLargeError } from './errors.js';

/**
 * Cuts a streamed body into the exact text of its records, one at a time, without holding
 * more than the record being read: a JSON array of objects (`[{…}, {…}]`) or NDJSON (one
 * JSON value per line, blank lines ignored).
 *
 * This finds where each record starts and ends (brackets, strings and their escapes); it
 * does not parse. The caller JSON.parses each record it is given. Streaming JSON parsers
 * could emit parsed values, but not the record's own bytes, and not with a limit on one
 * record's size, which is what keeps a hostile body from filling memory: a record over
 * `maxRecordBytes` is refused as soon as it gets that long.
 *
 * Bytes, not characters, are scanned (every delimiter is ASCII, and no byte of a multi-byte
 * UTF-8 sequence is below 0x80), so a character split between two pushes is joined intact.
 */
export class RecordSplitter {
  /** Records handed out so far. */
  count = 0;
  private parts: Buffer[] = [];
  private partBytes = 0;
  // JSON array state.
  private opened = false;
  private closed = false;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** After a record in the array: a comma or the closing bracket must come next. */
  private needComma = false;

  constructor(
    readonly format: 'json' | 'ndjson',
    private readonly maxRecordBytes: number,
  ) {}

  /** The records completed by this piece of the body, as text. */
  push(buf: Buffer): string[] {
    return this.format === 'ndjson' ? this.pushLines(buf) : this.pushArray(buf);
  }

  /** The body ended: the last record, if any, or an error when the body stopped short. */
  end(): string[] {
    if (this.format === 'ndjson') {
      const last = this.take(Buffer.alloc(0));
      return last === null ? [] : [last];
    }
    if (!this.opened) throw new BadRequestError('the body is empty; send a JSON array of records, or NDJSON', 'invalid_json');
    if (!this.closed) {
      throw new BadRequestError(`the JSON array ended early, inside record ${this.count + (this.depth > 0 ? 1 : 0)}: the closing "]" is missing`, 'invalid_json');
    }
    return [];
  }

  private pushLines(buf: Buffer): string[] {
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl === -1) {
        this.keep(buf.subarray(start));
        return out;
      }
      const line = this.take(buf.subarray(start, nl));
      if (line !== null) out.push(line);
      start = nl + 1;
    }
  }

  private pushArray(buf: Buffer): string[] {
    const out: string[] = [];
    let recordStart = this.depth > 0 ? 0 : -1;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i]!;
      if (this.depth > 0) {
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (c === 0x5c) this.escaped = true; // backslash
          else if (c === 0x22) this.inString = false; // quote
        } else if (c === 0x22) this.inString = true;
        else if (c === 0x7b || c === 0x5b) this.depth++; // { [
        else if (c === 0x7d || c === 0x5d) {
          // } ]
          if (--this.depth === 0) {
            const text = this.take(buf.subarray(recordStart, i + 1));
            out.push(text!);
            this.needComma = true;
            recordStart = -1;
          }
        }
        continue;
      }
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      if (this.closed) throw new BadRequestError('the body goes on after the closing "]" of the JSON array', 'invalid_json');
      if (!this.opened) {
        if (c !== 0x5b) throw new BadRequestError('the body must be a JSON array of records (starting with "["), or NDJSON sent as application/x-ndjson', 'invalid_json');
        this.opened = true;
      } else if (c === 0x5d) {
        if (!this.needComma && this.count > 0) throw new BadRequestError(`a "]" follows a comma after record ${this.count}`, 'invalid_json');
        this.closed = true;
      } else if (c === 0x2c) {
        if (!this.needComma) throw new BadRequestError(`an unexpected "," after record ${this.count}`, 'invalid_json');
        this.needComma = false;
      } else if (this.needComma) {
        throw new BadRequestError(`a "," or "]" must follow record ${this.count}`, 'invalid_json');
      } else if (c === 0x7b) {
        this.depth = 1;
        recordStart = i;
      } else {
        throw new BadRequestError(`record ${this.count + 1} is not a JSON object`, 'invalid_record');
      }
    }
    if (this.depth > 0) this.keep(buf.subarray(recordStart));
    return out;
  }

  /** Keeps part of an unfinished record, refusing it once it is too large. */
  private keep(part: Buffer): void {
    if (part.length === 0) return;
    this.partBytes += part.length;
    if (this.partBytes > this.maxRecordBytes) {
      throw new PayloadTooLargeError(
        this.partBytes,
        this.maxRecordBytes,
        `record ${this.count + 1} is larger than the limit of ${this.maxRecordBytes} bytes per record`,
      );
    }
    // A copy: the stream may reuse the buffer it handed over.
    this.parts.push(Buffer.from(part));
  }

  /** The record ending with `tail` as text, or null for a blank NDJSON line. */
  private take(tail: Buffer): string | null {
    const size = this.partBytes + tail.length;
    if (size > this.maxRecordBytes) {
      throw new PayloadTooLargeError(size, this.maxRecordBytes, `record ${this.count + 1} is larger than the limit of ${this.maxRecordBytes} bytes per record`);
    }
    const bytes = this.parts.length === 0 ? tail : Buffer.concat([...this.parts, tail]);
    // Checked before decoding, which would put U+FFFD in place of bytes that are not UTF-8
    // and store the record altered. A record's bytes are whole: it ends on an ASCII byte.
    if (!isUtf8(bytes)) throw new BadRequestError(`record ${this.count + 1} is not valid UTF-8; send the records in UTF-8`, 'invalid_utf8');
    let text = bytes.toString('utf8');
    this.parts = [];
    this.partBytes = 0;
    if (this.format === 'ndjson') {
      text = text.trim();
      if (text === '') return null;
    }
    this.count++;
    return text;
  }
}
