/**
 * Writes JSON text as UTF-8 bytes straight into a slab, for the compiled schema JSON encoders.
 * Each encoded value is a view of the slab that is never written again: the slab is only ever
 * appended to, and a new one is taken when it runs short, so a caller may keep the bytes.
 */

const SLAB_BYTES = 64 * 1024;
/** A value starts on a new slab when less than this is left, so most never need a copy. */
const MIN_ROOM = 2048;
const QUOTE = 34;
const BACKSLASH = 92;
/** Characters JSON.stringify writes otherwise than as themselves, and everything beyond ASCII. */
const NOT_PLAIN = /[\u0000-\u001f"\\\u007f-\uffff]/;

export class JsonWriter {
  private buf = Buffer.allocUnsafe(SLAB_BYTES);
  private start = 0;
  private pos = 0;
  private active = false;

  /** Starts a value; false when one is already being written (a getter that encodes). */
  begin(): boolean {
    if (this.active) return false;
    this.active = true;
    this.start = this.pos;
    // A slab grown for one large value is not kept for the small ones after it.
    if (this.buf.length - this.pos < MIN_ROOM || this.buf.length > SLAB_BYTES) this.renew(0);
    return true;
  }

  /** The bytes of the value begun last. */
  end(): Uint8Array {
    this.active = false;
    return this.buf.subarray(this.start, this.pos);
  }

  /** Drops the value begun last: its room is used again. */
  abort(): void {
    this.active = false;
    this.pos = this.start;
  }

  byte(b: number): void {
    if (this.pos === this.buf.length) this.renew(1);
    this.buf[this.pos++] = b;
  }

  /** Bytes known in advance (a key with its quotes and colon), from `from` on. */
  raw(bytes: Uint8Array, from: number): void {
    const n = bytes.length;
    if (this.pos + n > this.buf.length) this.renew(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = from; i < n; i++) buf[p++] = bytes[i]!;
    this.pos = p;
  }

  /** A string exactly as JSON.stringify writes it. */
  string(s: string): void {
    const n = s.length;
    if (this.pos + n + 2 > this.buf.length) this.renew(n + 2);
    const buf = this.buf;
    if (n < 48) {
      // Short strings: check and copy in one pass.
      let p = this.pos;
      buf[p++] = QUOTE;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c < 32 || c > 126 || c === QUOTE || c === BACKSLASH) return this.escaped(s);
        buf[p++] = c;
      }
      buf[p++] = QUOTE;
      this.pos = p;
      return;
    }
    if (NOT_PLAIN.test(s)) return this.escaped(s);
    buf[this.pos++] = QUOTE;
    this.pos += buf.write(s, this.pos, 'latin1');
    buf[this.pos++] = QUOTE;
  }

  /** A finite number as JSON.stringify writes it; false for NaN and the infinities (JSON has none). */
  number(v: number): boolean {
    if ((v | 0) === v) {
      this.integer(v);
      return true;
    }
    if (v - v !== 0) return false;
    const s = '' + v;
    const n = s.length;
    if (this.pos + n > this.buf.length) this.renew(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
    return true;
  }

  /** An int32, digit by digit: no string made. */
  private integer(v: number): void {
    if (this.pos + 11 > this.buf.length) this.renew(11);
    const buf = this.buf;
    if (v < 0) {
      buf[this.pos++] = 45;
      // -2147483648 has no int32 opposite; as a double it does.
      v = -v;
    }
    let digits = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    do {
      const q = Math.floor(v / 10);
      buf[--p] = 48 + (v - q * 10);
      v = q;
    } while (v > 0);
  }

  /** Escapes, non-ASCII text and lone surrogates: JSON.stringify knows them all. */
  private escaped(s: string): void {
    const json = JSON.stringify(s);
    const most = json.length * 3;
    if (this.pos + most > this.buf.length) this.renew(most);
    this.pos += this.buf.write(json, this.pos, 'utf8');
  }

  /** A new slab with room for `more` bytes beyond the value written so far, which moves along. */
  private renew(more: number): void {
    const written = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(SLAB_BYTES, 2 * (written + more)));
    if (written > 0) this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = written;
  }
}
