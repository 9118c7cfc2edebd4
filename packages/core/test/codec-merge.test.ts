import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { protobufCodec, toProtobufJson, type ServiceSchema } from '../src/index.js';

// Issue 12, defect 11: a field that appears more than once on the wire. Protobuf merges (and so
// does concatenating two encodings): the last scalar wins, repeated fields concatenate, an
// embedded message merges field by field (recursively), map entries add (the last one of a key
// wins), a oneof keeps the last variant (merged when it is the same one).

const int32 = { kind: 'scalar', scalar: 'int32' } as const;
const schema: ServiceSchema = {
  schemaVersion: 1,
  service: 'Merge',
  package: 'merge',
  methods: [{ name: 'put', request: 'Outer', response: 'Outer' }],
  messages: [
    {
      name: 'Outer',
      fields: [
        { name: 'box', no: 1, type: { kind: 'message', name: 'Box' }, optional: true },
        { name: 'n', no: 2, type: int32 },
        { name: 'when', no: 3, type: { kind: 'timestamp' }, optional: true },
        { name: 'tags', no: 4, type: { kind: 'map', key: 'string', value: { kind: 'scalar', scalar: 'string' }, js: 'record' } },
        { name: 'shape', no: 5, type: { kind: 'message', name: 'Shape' }, optional: true },
        { name: 'boxes', no: 6, type: { kind: 'list', element: { kind: 'message', name: 'Box' } } },
        { name: 'byId', no: 7, type: { kind: 'map', key: 'int32', value: { kind: 'message', name: 'Inner' }, js: 'map' } },
        { name: 'note', no: 8, type: { kind: 'scalar', scalar: 'string' }, optional: true },
      ],
    },
    {
      name: 'Box',
      fields: [
        { name: 'a', no: 1, type: int32 },
        { name: 'b', no: 2, type: { kind: 'scalar', scalar: 'string' } },
        { name: 'list', no: 3, type: { kind: 'list', element: int32 } },
        { name: 'inner', no: 4, type: { kind: 'message', name: 'Inner' }, optional: true },
        { name: 'at', no: 5, type: { kind: 'timestamp' } },
      ],
    },
    { name: 'Inner', fields: [{ name: 'x', no: 1, type: int32 }, { name: 'y', no: 2, type: int32 }] },
    {
      name: 'Shape',
      discriminant: 'kind',
      fields: [
        { name: 'circle', no: 1, type: { kind: 'message', name: 'ShapeCircle' }, tag: 'circle' },
        { name: 'square', no: 2, type: { kind: 'message', name: 'ShapeSquare' }, tag: 'square' },
      ],
    },
    { name: 'ShapeCircle', fields: [{ name: 'r', no: 1, type: { kind: 'scalar', scalar: 'double' } }, { name: 'c', no: 2, type: { kind: 'message', name: 'Inner' }, optional: true }] },
    { name: 'ShapeSquare', fields: [{ name: 'side', no: 1, type: { kind: 'scalar', scalar: 'double' } }] },
  ],
  enums: [],
};

const PROTO = `syntax = "proto3";
package merge;
import "google/protobuf/timestamp.proto";
message Outer {
  optional Box box = 1; int32 n = 2; optional google.protobuf.Timestamp when = 3; map<string, string> tags = 4;
  optional Shape shape = 5; repeated Box boxes = 6; map<int32, Inner> byId = 7; optional string note = 8;
}
message Box { int32 a = 1; string b = 2; repeated int32 list = 3; optional Inner inner = 4; google.protobuf.Timestamp at = 5; }
message Inner { int32 x = 1; int32 y = 2; }
message Shape { oneof kind { ShapeCircle circle = 1; ShapeSquare square = 2; } }
message ShapeCircle { double r = 1; optional Inner c = 2; }
message ShapeSquare { double side = 1; }
`;

// Hand-made protobuf: tag, varint, length-delimited.
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};
const key = (no: number, wire: number): number[] => varint((no << 3) | wire);
const vint = (no: number, v: number): number[] => [...key(no, 0), ...varint(v)];
const delim = (no: number, body: number[]): number[] => [...key(no, 2), ...varint(body.length), ...body];
const text = (no: number, s: string): number[] => delim(no, [...Buffer.from(s)]);
const bytes = (...parts: number[][]): Uint8Array => Uint8Array.from(parts.flat());
const seconds = (s: number): number[] => vint(1, s);
const nanos = (n: number): number[] => vint(2, n);

describe('protobuf: a field repeated on the wire merges', () => {
  const put = protobufCodec([schema]).forMethod('Merge', 'put')!;

  it('merges an embedded message: last scalar wins, lists concatenate, nested messages merge, a required field may come later', () => {
    const first = delim(1, [...vint(1, 1), ...text(2, 'first'), ...vint(3, 10), ...delim(4, vint(1, 5))]);
    // The second occurrence brings `at` (required in Box) and changes b, adds to list, merges inner.
    const second = delim(1, [...text(2, 'second'), ...delim(3, [...varint(20), ...varint(30)]), ...delim(4, vint(2, 6)), ...delim(5, seconds(3))]);
    expect(put.decodeRequest(bytes(first, second))).toEqual({
      box: { a: 1, b: 'second', list: [10, 20, 30], inner: { x: 5, y: 6 }, at: new Date(3000) },
      n: 0, tags: {}, boxes: [], byId: new Map(),
    });
  });

  it('keeps the last occurrence of a scalar and of an optional string', () => {
    expect(put.decodeRequest(bytes(vint(2, 1), text(8, 'a'), vint(2, 2), text(8, 'b')))).toMatchObject({ n: 2, note: 'b' });
  });

  it('merges a Timestamp field by field', () => {
    expect(put.decodeRequest(bytes(delim(3, seconds(5)), delim(3, nanos(7_000_000))))).toMatchObject({ when: new Date(5007) });
    expect(put.decodeRequest(bytes(delim(3, [...seconds(5), ...nanos(7_000_000)]), delim(3, seconds(9))))).toMatchObject({ when: new Date(9007) });
    expect(put.decodeRequest(bytes(delim(3, nanos(1_000_000)), delim(3, seconds(2))))).toMatchObject({ when: new Date(2001) });
  });

  it('adds map entries (the last one of a key wins, not merged), and merges a value repeated inside one entry', () => {
    const entry = (k: number, ...values: number[][]) => delim(7, [...vint(1, k), ...values.flatMap((v) => delim(2, v))]);
    const decoded = put.decodeRequest(bytes(
      delim(4, [...text(1, 'k'), ...text(2, 'one')]), delim(4, [...text(1, 'j'), ...text(2, 'two')]), delim(4, [...text(1, 'k'), ...text(2, 'three')]),
      entry(1, vint(1, 1)), entry(1, vint(2, 2)), entry(2, vint(1, 3), vint(2, 4)),
    )) as { tags: unknown; byId: unknown };
    expect(decoded.tags).toEqual({ k: 'three', j: 'two' });
    expect(decoded.byId).toEqual(new Map([[1, { x: 0, y: 2 }], [2, { x: 3, y: 4 }]]));
  });

  it('gives a map entry without its value the value\'s default, as protobuf does', () => {
    expect((put.decodeRequest(bytes(delim(7, vint(1, 4)), delim(4, text(1, 'k')))) as { byId: unknown; tags: unknown })).toMatchObject({ byId: new Map([[4, { x: 0, y: 0 }]]), tags: { k: '' } });
  });

  it('keeps a repeated field\'s elements apart: each occurrence is one more element', () => {
    const el = (a: number) => delim(6, [...vint(1, a), ...delim(5, [])]);
    expect((put.decodeRequest(bytes(el(1), el(2))) as { boxes: unknown }).boxes).toEqual([{ a: 1, b: '', list: [], at: new Date(0) }, { a: 2, b: '', list: [], at: new Date(0) }]);
  });

  it('merges a oneof that repeats its variant, and keeps only the last variant when they differ', () => {
    const circle = (body: number[]) => delim(5, delim(1, body));
    const square = (side: number[]) => delim(5, delim(2, side));
    const r = [...key(1, 1), ...new Uint8Array(new Float64Array([2.5]).buffer)];
    expect((put.decodeRequest(bytes(circle(r), circle(delim(2, vint(1, 1))), circle(delim(2, vint(2, 2))))) as { shape: unknown }).shape)
      .toEqual({ kind: 'circle', r: 2.5, c: { x: 1, y: 2 } });
    expect((put.decodeRequest(bytes(circle(r), square([]))) as { shape: unknown }).shape).toEqual({ kind: 'square', side: 0 });
    expect((put.decodeRequest(bytes(square([]), circle(delim(2, vint(1, 1))))) as { shape: unknown }).shape).toEqual({ kind: 'circle', r: 0, c: { x: 1, y: 0 } });
    // Within one Shape message: the same rules.
    expect((put.decodeRequest(bytes(delim(5, [...delim(1, r), ...delim(1, delim(2, vint(2, 3)))]))) as { shape: unknown }).shape).toEqual({ kind: 'circle', r: 2.5, c: { x: 0, y: 3 } });
  });

  it('reads two protobufjs encodings written one after the other as one merged message', () => {
    const Outer = protobuf.Root.fromJSON(toProtobufJson(schema)).lookupType('merge.Outer');
    const a = Outer.encode(Outer.fromObject({ box: { a: 1, list: [1], inner: { x: 1 } }, n: 5, tags: { k: 'a', only: 'a' }, boxes: [{ a: 1, at: {} }], shape: { circle: { r: 1 } } })).finish();
    const b = Outer.encode(Outer.fromObject({ box: { b: 'b', list: [2], inner: { y: 2 }, at: { seconds: 1 } }, n: 6, tags: { k: 'b' }, boxes: [{ a: 2, at: { nanos: 2_000_000 } }], shape: { circle: { c: { x: 3 } } } })).finish();
    const merged = put.decodeRequest(Buffer.concat([a, b]));
    expect(merged).toEqual({
      box: { a: 1, b: 'b', list: [1, 2], inner: { x: 1, y: 2 }, at: new Date(1000) },
      n: 6,
      tags: { k: 'b', only: 'a' },
      boxes: [{ a: 1, b: '', list: [], at: new Date(0) }, { a: 2, b: '', list: [], at: new Date(2) }],
      shape: { kind: 'circle', r: 1, c: { x: 3, y: 0 } },
      byId: new Map(),
    });
  });

  it.skipIf(!existsSync('/usr/bin/protoc'))('agrees with protoc, which merges the concatenation the same way', () => {
    const dir = mkdtempSync(join(tmpdir(), 'svc-merge-'));
    writeFileSync(join(dir, 'merge.proto'), PROTO);
    const protoc = (args: string[], input: Uint8Array | string): Buffer => execFileSync('/usr/bin/protoc', [`-I${dir}`, '-I/usr/include', ...args, 'merge.proto'], { input, stdio: ['pipe', 'pipe', 'pipe'] });
    const encode = (t: string): Buffer => protoc(['--encode=merge.Outer'], t);
    const parts = [
      'box { a: 1 list: 1 inner { x: 1 } at { seconds: 1 } } n: 5 tags { key: "k" value: "a" } shape { circle { r: 1 c { x: 1 } } } byId { key: 1 value { x: 1 } } when { seconds: 7 }',
      'box { b: "b" list: 2 inner { y: 2 } at { nanos: 5000000 } } tags { key: "k" value: "b" } tags { key: "j" value: "c" } shape { circle { c { y: 2 } } } byId { key: 1 value { y: 1 } } boxes { a: 3 at {} } note: "x" when { nanos: 9000000 }',
      'shape { square { side: 2 } } n: 9 boxes { a: 4 at {} }',
    ];
    const concatenated = Buffer.concat(parts.map(encode));
    // protoc decodes the concatenation into one message and writes it again: the merge, canonical.
    const canonical = encode(protoc(['--decode=merge.Outer'], concatenated).toString());
    expect(canonical.length).toBeLessThan(concatenated.length);
    const ours = put.decodeRequest(concatenated);
    expect(ours).toEqual(put.decodeRequest(canonical));
    expect(ours).toEqual({
      box: { a: 1, b: 'b', list: [1, 2], inner: { x: 1, y: 2 }, at: new Date(1005) },
      n: 9,
      when: new Date(7009),
      tags: { k: 'b', j: 'c' },
      shape: { kind: 'square', side: 2 },
      boxes: [{ a: 3, b: '', list: [], at: new Date(0) }, { a: 4, b: '', list: [], at: new Date(0) }],
      byId: new Map([[1, { x: 0, y: 1 }]]),
      note: 'x',
    });
    // protoc reads what the codec writes of the merged value, and means the same by it.
    expect(put.decodeRequest(encode(protoc(['--decode=merge.Outer'], put.encodeRequest(ours)).toString()))).toEqual(ours);
  });
});
