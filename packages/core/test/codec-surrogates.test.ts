import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { protobufCodec, schemaJsonCodec, type ServiceSchema } from '../src/index.js';
import { stringWriter } from '../src/codec/protobuf-scalars.js';

// Issue 12, defect 10: a string with a lone surrogate (`'\uD800'`, half of a UTF-16 pair) has no
// UTF-8 form. The protobuf codec writes each one as U+FFFD, at every length: protobufjs writes
// strings shorter than 40 UTF-16 units with its own UTF-8 writer (which wrote the surrogate as the
// invalid bytes ED A0 80, refused by protoc and other languages) and longer ones through
// Buffer (U+FFFD), so the lengths around 40 and 128 (where protobufjs changes how it writes the
// length prefix) are all tried.

const str = { kind: 'scalar', scalar: 'string' } as const;
const schema: ServiceSchema = {
  schemaVersion: 1,
  service: 'Text',
  package: 'text',
  methods: [{ name: 'put', request: 'Note', response: 'Note' }],
  messages: [
    {
      name: 'Note',
      fields: [
        { name: 's', no: 1, type: str },
        { name: 'byKey', no: 2, type: { kind: 'map', key: 'string', value: str, js: 'record' } },
        { name: 'list', no: 3, type: { kind: 'list', element: str } },
        { name: 'shape', no: 4, type: { kind: 'message', name: 'Shape' }, optional: true },
      ],
    },
    { name: 'Shape', discriminant: 'kind', fields: [{ name: 'label', no: 1, type: { kind: 'message', name: 'ShapeLabel' }, tag: 'label' }] },
    { name: 'ShapeLabel', fields: [{ name: 'text', no: 1, type: str }] },
    { name: 'NoteEvent', fields: [{ name: 'value', no: 1, type: str }] },
  ],
  enums: [],
  events: [{ topic: 'notes.added', message: 'NoteEvent', wrapped: true }],
};

/** String.prototype.isWellFormed and toWellFormed (Node 20; the lib of this project is ES2023). */
const wf = (s: string) => s as unknown as { isWellFormed(): boolean; toWellFormed(): string };

const LENGTHS = [1, 2, 3, 38, 39, 40, 41, 42, 126, 127, 128, 129, 130, 1000, 70_000];
/** Strings of `n` UTF-16 units with a lone surrogate at the start, in the middle and at the end, and a pair in the wrong order. */
function lonely(n: number): string[] {
  const fill = (k: number): string => 'a'.repeat(Math.max(0, k));
  return [
    `\ud800${fill(n - 1)}`,
    `${fill(n - 1)}\udfff`,
    `${fill(Math.floor((n - 1) / 2))}\udbff${fill(n - 1 - Math.floor((n - 1) / 2))}`,
    n >= 2 ? `${fill(n - 2)}\udc00\ud800` : '\udc00',
    n >= 3 ? `é${fill(n - 3)}\ud83d😀`.slice(0, n) : `\ud83d${fill(n - 1)}`,
  ].map((s) => s.slice(0, n));
}

const strict = new TextDecoder('utf-8', { fatal: true });
/** The bytes of each string field (wire type 2) of a message, checked as UTF-8 strictly, as protoc and other languages do. */
function strictStrings(bytes: Uint8Array): string[] {
  const r = protobuf.Reader.create(bytes);
  const out: string[] = [];
  while (r.pos < r.len) {
    const t = r.uint32();
    if ((t & 7) !== 2) {
      r.skipType(t & 7);
      continue;
    }
    out.push(strict.decode(r.bytes()));
  }
  return out;
}

describe('protobuf: lone surrogates are written as U+FFFD at every length', () => {
  const put = protobufCodec([schema]).forMethod('Text', 'put')!;

  it.each(LENGTHS)('a string field of %i UTF-16 units', (n) => {
    for (const s of lonely(n)) {
      expect(s.length).toBe(n);
      expect(wf(s).isWellFormed()).toBe(false);
      const bytes = put.encodeRequest({ s, byKey: {}, list: [] });
      // Valid UTF-8, with U+FFFD where the lone surrogate was.
      expect(strictStrings(bytes)).toEqual([wf(s).toWellFormed()]);
      expect((put.decodeRequest(bytes) as { s: string }).s).toBe(wf(s).toWellFormed());
    }
  });

  it.each(LENGTHS)('map keys, list elements and a string in a union variant of %i units', (n) => {
    for (const s of lonely(n)) {
      const bytes = put.encodeRequest({ s: 'x', byKey: { [s]: s }, list: [s, s], shape: { kind: 'label', text: s } });
      const back = put.decodeRequest(bytes) as { byKey: Record<string, string>; list: string[]; shape: { text: string } };
      const fixed = wf(s).toWellFormed();
      expect(back.byKey).toEqual({ [fixed]: fixed });
      expect(back.list).toEqual([fixed, fixed]);
      expect(back.shape).toEqual({ kind: 'label', text: fixed });
      // Every string on the wire (the map entry's key and value are inside the entry) is valid UTF-8.
      expect(() => JSON.stringify(decodeAllStrings(bytes))).not.toThrow();
    }
  });

  it('an event payload', () => {
    const e = protobufCodec([schema]).forEvent('notes.added')!;
    for (const n of LENGTHS) for (const s of lonely(n)) expect(strictStrings(e.encode(s))).toEqual([wf(s).toWellFormed()]);
  });

  it.each([true, false])('writes the same with and without a Writer cursor to set back (cursor: %s)', (cursor) => {
    const write = stringWriter(cursor);
    for (const n of LENGTHS) {
      for (const s of [...lonely(n), 'a'.repeat(n), 'é'.repeat(n)]) {
        const w = protobuf.Writer.create();
        write(w, s, null, 'request');
        const bytes = w.finish();
        const r = protobuf.Reader.create(bytes);
        expect(strict.decode(r.bytes())).toBe(wf(s).toWellFormed());
        expect(r.pos).toBe(bytes.length);
      }
    }
  });

  it('leaves well-formed text alone, surrogate pairs included', () => {
    for (const s of ['', 'a', '😀', 'é'.repeat(39), `${'a'.repeat(38)}😀`, '漢'.repeat(200)]) {
      const bytes = put.encodeRequest({ s, byKey: {}, list: [] });
      expect(Buffer.from(bytes).includes(Buffer.from(s))).toBe(true);
      expect((put.decodeRequest(bytes) as { s: string }).s).toBe(s);
    }
  });

  const protoc = '/usr/bin/protoc';
  it.skipIf(!existsSync(protoc))('writes what protoc reads (it refuses invalid UTF-8 in a string field)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'svc-surrogates-'));
    writeFileSync(join(dir, 'text.proto'), 'syntax = "proto3";\npackage text;\nmessage Note { string s = 1; map<string, string> byKey = 2; repeated string list = 3; }\n');
    for (const n of [1, 39, 40, 127, 128]) {
      for (const s of lonely(n)) {
        const bytes = put.encodeRequest({ s, byKey: { [s]: 'v' }, list: [s] });
        const text = execFileSync(protoc, [`-I${dir}`, '--decode=text.Note', 'text.proto'], { input: bytes, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
        expect(text).toContain('\\357\\277\\275');
      }
    }
  });
});

/** Walks every length-delimited field recursively and decodes those that are not messages as strict UTF-8. */
function decodeAllStrings(bytes: Uint8Array, depth = 0): unknown[] {
  const r = protobuf.Reader.create(bytes);
  const out: unknown[] = [];
  while (r.pos < r.len) {
    const t = r.uint32();
    if ((t & 7) !== 2) {
      r.skipType(t & 7);
      continue;
    }
    const inner = r.bytes();
    let nested: unknown[] | undefined;
    if (depth < 4) {
      try {
        nested = decodeAllStrings(inner, depth + 1);
      } catch {
        nested = undefined;
      }
    }
    out.push(nested ?? strict.decode(inner));
  }
  return out;
}

describe('JSON codecs: lone surrogates travel as JSON escapes', () => {
  it('schema JSON writes \\ud800 as JSON.stringify does (valid UTF-8) and reads back the same string', () => {
    const put = schemaJsonCodec([schema]).forMethod('Text', 'put')!;
    for (const n of [1, 39, 40, 47, 48, 49, 127, 128]) {
      for (const s of lonely(n)) {
        const bytes = put.encodeRequest({ s, byKey: { [s]: s }, list: [s] });
        expect(() => strict.decode(bytes)).not.toThrow();
        expect(Buffer.from(bytes).toString()).toBe(JSON.stringify({ s, byKey: { [s]: s }, list: [s] }));
        expect(put.decodeRequest(bytes)).toEqual({ s, byKey: { [s]: s }, list: [s] });
      }
    }
  });
});
