import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { protobufCodec } from '@svc/core';
import { schemas } from './fixtures/corpus/src/generated/index.js';
import { everything } from './fixtures/values.js';
import { CORPUS, PROTOC } from './helpers.js';

// protoc comes from the Debian package protobuf-compiler (with the well-known types in /usr/include).
const GENERATED = join(CORPUS, 'src/generated');
const protoc = (args: string[], input?: Uint8Array | string): Buffer =>
  execFileSync(PROTOC, [`-I${GENERATED}`, '-I/usr/include', ...args], { input, stdio: ['pipe', 'pipe', 'pipe'] });

describe('protoc', () => {
  it('is installed (Debian package protobuf-compiler)', () => {
    expect(existsSync(PROTOC), `${PROTOC} is missing: apt-get install -y protobuf-compiler`).toBe(true);
  });

  it('compiles every emitted .proto', () => {
    const files = readdirSync(GENERATED).filter((f) => f.endsWith('.proto'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      // Throws (with protoc's message) on any error.
      const out = protoc([`--descriptor_set_out=/dev/null`, file]);
      expect(out.toString()).toBe('');
    }
  });

  it('reads @Method({ idempotent: true }) as the method option idempotency_level = IDEMPOTENT', () => {
    // protoc's own view of the file: its FileDescriptorSet, decoded with descriptor.proto.
    const dir = mkdtempSync(join(tmpdir(), 'svc-protoc-'));
    const methodsOf = (file: string): string => {
      const out = join(dir, `${file}.pb`);
      protoc([`--descriptor_set_out=${out}`, file]);
      return protoc(['--decode=google.protobuf.FileDescriptorSet', 'google/protobuf/descriptor.proto'], readFileSync(out)).toString();
    };
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const catalog = methodsOf('catalog.proto');
    expect(catalog).toContain('name: "echo"\n      input_type: ".catalog.Everything"\n      output_type: ".catalog.Everything"\n      options {\n        idempotency_level: IDEMPOTENT\n      }\n');
    expect(catalog).toContain('name: "count"\n      input_type: ".catalog.PageOfPoint"\n      output_type: ".catalog.CountResponse"\n    }\n');
    expect(catalog.match(/idempotency_level/g)).toHaveLength(1);
    // Inherited from a base class, without a request.
    expect(methodsOf('admin-console.proto')).toContain('name: "health"\n      input_type: ".google.protobuf.Empty"\n      output_type: ".admin_console.HealthResponse"\n      options {\n        idempotency_level: IDEMPOTENT\n      }\n');
  });

  it('reads stream on the iterable side as client_streaming and server_streaming', () => {
    const dir = mkdtempSync(join(tmpdir(), 'svc-protoc-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'prices.pb');
    protoc([`--descriptor_set_out=${out}`, 'prices.proto']);
    const text = protoc(['--decode=google.protobuf.FileDescriptorSet', 'google/protobuf/descriptor.proto'], readFileSync(out)).toString();
    expect(text).toContain('name: "watch"\n      input_type: ".prices.Query"\n      output_type: ".prices.Tick"\n      server_streaming: true\n    }\n');
    expect(text).toContain('name: "clock"\n      input_type: ".google.protobuf.Empty"\n      output_type: ".prices.ClockResponse"\n      server_streaming: true\n    }\n');
    expect(text).toContain('name: "upload"\n      input_type: ".prices.Chunk"\n      output_type: ".prices.UploadResponse"\n      client_streaming: true\n    }\n');
    expect(text).toContain('name: "chat"\n      input_type: ".prices.Say"\n      output_type: ".prices.Said"\n      client_streaming: true\n      server_streaming: true\n    }\n');
    expect(text).toContain('name: "last"\n      input_type: ".prices.Query"\n      output_type: ".prices.LastResponse"\n    }\n');
    expect(text.match(/client_streaming: true/g)).toHaveLength(4);
    expect(text.match(/server_streaming: true/g)).toHaveLength(4);
  });

  const echo = protobufCodec({ schemas }).forMethod('Catalog', 'echo')!;

  it('reads what the protobuf codec writes', () => {
    const text = protoc(['--decode=catalog.Everything', 'catalog.proto'], echo.encodeRequest(everything())).toString();
    expect(text).toContain('i64: -9223372036854775808');
    expect(text).toContain('u64: 18446744073709551615');
    expect(text).toContain('s64: 9223372036854775807');
    expect(text).toContain('when {\n  seconds: -14182940\n  nanos: 123000000\n}');
    expect(text).toContain('color: COLOR_BLUE');
    expect(text).toContain('level: LEVEL_HIGH');
    expect(text).toContain('mode: MODE_SAFE');
    expect(text).toMatch(/byId \{\n {2}key: -9223372036854775808\n {2}value: "min"\n\}/);
    expect(text).toMatch(/shapes \{\n {2}square \{\n {4}corner \{/);
    expect(text).toContain('raw: "\\000\\377\\001"');
    expect(text).not.toContain('nul:');
  });

  it('writes what the protobuf codec reads', () => {
    const bytes = protoc(['--encode=catalog.Everything', 'catalog.proto'], `
      i64: -9223372036854775808 u64: 18446744073709551615 f64: 42
      when { seconds: 1 nanos: 500000000 }
      byId { key: 5 value: "five" }
      record { key: "k" value: 0.25 }
      color: COLOR_GREEN level: LEVEL_LOW mode: MODE_FAST inline: EVERYTHING_INLINE_UP
      shape { square { corner { x: 1 y: 2 } side: 3 } }
      page { total: 3 } names { items: "x" } tree { name: "t" children { name: "u" } }
      meta { version: "" } nested { deep { value: -1 } } author { name: "Ada" }
      nul: ""
    `);
    const value = echo.decodeRequest(bytes) as Record<string, unknown>;
    expect(value).toMatchObject({
      d: 0,
      i64: -(2n ** 63n),
      u64: 2n ** 64n - 1n,
      f64: 42n,
      when: new Date(1500),
      byId: new Map([[5n, 'five']]),
      record: { k: 0.25 },
      color: 'green',
      level: 1,
      mode: 'fast',
      inline: 'up',
      shape: { kind: 'square', corner: { x: 1, y: 2 }, side: 3 },
      page: { items: [], total: 3 },
      names: { items: ['x'], total: 0 },
      tree: { name: 't', children: [{ name: 'u', children: [] }] },
      meta: { version: '' },
      nested: { deep: { value: -1 } },
      author: { name: 'Ada' },
      nul: '',
      nullDate: null,
    });
    expect('opt' in value).toBe(false);
  });

  // An event body is its payload message: what another language publishes or reads with protoc.
  const restocked = protobufCodec({ schemas }).forEvent('stock.restocked')!;
  const noted = protobufCodec({ schemas }).forEvent('stock.noted')!;

  it('reads an event body the publisher writes, as the payload message of the .proto', () => {
    const body = restocked.encode({ sku: 's-1', qty: -2, lot: -(2n ** 63n), at: new Date(-1), color: 'green', bins: new Map([['a', { x: 1, y: 0 }]]) });
    const text = protoc(['--decode=stock.Restock', 'stock.proto'], body).toString();
    expect(text).toContain('sku: "s-1"\nqty: -2\nlot: -9223372036854775808\nat {\n  seconds: -1\n  nanos: 999000000\n}\ncolor: COLOR_GREEN\nbins {\n  key: "a"\n  value {\n    x: 1\n  }\n}');
    expect(protoc(['--decode=stock.StockNotedEvent', 'stock.proto'], noted.encode('hi')).toString()).toBe('value: "hi"\n');
  });

  it('writes an event body the subscriber reads', () => {
    const body = protoc(['--encode=stock.Restock', 'stock.proto'], 'sku: "z" qty: 5 lot: 7 at { seconds: 60 } bins { key: "k" value { y: 2 } }');
    expect(restocked.decode(body)).toEqual({ sku: 'z', qty: 5, lot: 7n, at: new Date(60_000), bins: new Map([['k', { x: 0, y: 2 }]]) });
  });
});
