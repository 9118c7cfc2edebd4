/**
 * @svc frames written by hand, for hostile publishers: the header is encoded here rather than
 * with core's encoder, so that a test can write what core never would (ids above 2^32, any kind,
 * metadata values of any length, fields missing).
 */
export interface RawFrame {
  kind?: number;
  id?: number;
  service?: string;
  method?: string;
  codec?: string;
  compression?: number;
  timeoutMs?: number;
  metadata?: [string, string][];
  status?: number;
  message?: string;
  body?: Uint8Array | string;
}

function varint(v: number): number[] {
  const out: number[] = [];
  // Numbers above 2^32 too: divide rather than shift.
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function bytesField(tag: number, bytes: Uint8Array): number[] {
  return [tag, ...varint(bytes.length), ...bytes];
}

function stringField(tag: number, s: string): number[] {
  return bytesField(tag, Buffer.from(s));
}

export function rawHeader(f: RawFrame): Buffer {
  const out: number[] = [0x08, ...varint(f.kind ?? 1)];
  if (f.id !== undefined) out.push(0x10, ...varint(f.id));
  if (f.service !== undefined) out.push(...stringField(0x1a, f.service));
  if (f.method !== undefined) out.push(...stringField(0x22, f.method));
  if (f.codec !== undefined) out.push(...stringField(0x2a, f.codec));
  if (f.compression !== undefined) out.push(0x30, ...varint(f.compression));
  if (f.timeoutMs !== undefined) out.push(0x38, ...varint(f.timeoutMs));
  for (const [key, value] of f.metadata ?? []) out.push(...bytesField(0x42, Buffer.from([...stringField(0x0a, key), ...stringField(0x12, value)])));
  if (f.status !== undefined) out.push(0x48, ...varint(f.status));
  if (f.message !== undefined) out.push(...stringField(0x52, f.message));
  return Buffer.from(out);
}

/** One frame: prefix 'SV', version 1, total length, header length, header, body. */
export function rawFrame(f: RawFrame): Buffer {
  const header = rawHeader(f);
  const body = typeof f.body === 'string' ? Buffer.from(f.body) : Buffer.from(f.body ?? new Uint8Array(0));
  const prefix = Buffer.alloc(11);
  prefix[0] = 0x53;
  prefix[1] = 0x56;
  prefix[2] = 1;
  prefix.writeUInt32BE(4 + header.length + body.length, 3);
  prefix.writeUInt32BE(header.length, 7);
  return Buffer.concat([prefix, header, body]);
}

/** A request frame of a JSON call. */
export function requestFrame(id: number, service: string, method: string, args: unknown, extra: RawFrame = {}): Buffer {
  return rawFrame({ kind: 1, id, service, method, codec: 'json', body: JSON.stringify(args), ...extra });
}

/** The frames of a NATS message of answers, decoded by hand: kind, id, status (no metadata). */
export function readAnswers(payload: Uint8Array): { kind: number; id: number; status: number; message: string; body: string }[] {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  const answers: { kind: number; id: number; status: number; message: string; body: string }[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const total = buf.readUInt32BE(pos + 3);
    const headerLength = buf.readUInt32BE(pos + 7);
    const headerStart = pos + 11;
    const bodyStart = headerStart + headerLength;
    const end = pos + 7 + total;
    const answer = { kind: 0, id: 0, status: 0, message: '', body: buf.toString('utf8', bodyStart, end) };
    let p = headerStart;
    const readVarint = (): number => {
      let result = 0;
      let scale = 1;
      for (;;) {
        const b = buf[p++]!;
        result += (b & 0x7f) * scale;
        if (b < 0x80) return result;
        scale *= 0x80;
      }
    };
    while (p < bodyStart) {
      const tag = readVarint();
      const wire = tag & 7;
      if (wire === 0) {
        const v = readVarint();
        if (tag === 0x08) answer.kind = v;
        else if (tag === 0x10) answer.id = v;
        else if (tag === 0x48) answer.status = v;
      } else {
        const n = readVarint();
        if (tag === 0x52) answer.message = buf.toString('utf8', p, p + n);
        p += n;
      }
    }
    answers.push(answer);
    pos = end;
  }
  return answers;
}
