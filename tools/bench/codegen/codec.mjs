#!/usr/bin/env node
// Protobuf codec, schema JSON codec and plain JSON codec on one message (a few scalars and a list of 10 small messages):
// encode and decode time per message, in process. Run: pnpm --filter @svc/codegen bench:codec
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const core = join(dirname(fileURLToPath(import.meta.url)), '../../../packages/core/dist/index.js');
const { jsonCodec, protobufCodec, schemaJsonCodec } = await import(core);

const scalar = (name, no, s) => ({ name, no, type: { kind: 'scalar', scalar: s } });
const schema = {
  schemaVersion: 1,
  service: 'Bench',
  package: 'bench',
  methods: [{ name: 'echo', request: 'Order', response: 'Order' }],
  messages: [
    { name: 'Order', fields: [scalar('a', 1, 'double'), scalar('b', 2, 'double'), scalar('s', 3, 'string'), { name: 'lines', no: 4, type: { kind: 'list', element: { kind: 'message', name: 'Line' } } }] },
    { name: 'Line', fields: [scalar('qty', 1, 'int32'), scalar('sku', 2, 'string')] },
  ],
  enums: [],
};
const value = { a: 6.5, b: 7, s: 'hello world', lines: Array.from({ length: 10 }, (_, i) => ({ qty: i, sku: `item${i}` })) };
const N = 100_000;
for (const [name, codec] of [['json', jsonCodec()], ['schema json', schemaJsonCodec([schema])], ['protobuf', protobufCodec([schema])]]) {
  const s = codec.forMethod('Bench', 'echo');
  for (let i = 0; i < 20_000; i++) s.decodeRequest(s.encodeRequest(value));
  let bytes;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) bytes = s.encodeRequest(value);
  const t1 = performance.now();
  for (let i = 0; i < N; i++) s.decodeRequest(bytes);
  const t2 = performance.now();
  console.log(`${name.padEnd(11)} ${String(bytes.length).padStart(4)} B   encode ${((t1 - t0) * 1000 / N).toFixed(2)} µs   decode ${((t2 - t1) * 1000 / N).toFixed(2)} µs`);
}
