import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator, GENERATED } from '../src/index.js';
import { CORPUS } from './helpers.js';

// The corpus covers every row of docs/type-mapping.md; its generated files are committed.
// UPDATE_GOLDEN=1 pnpm test rewrites them after an intended change (review the diff).
describe('golden corpus', () => {
  const generator = new Generator({ tsconfig: join(CORPUS, 'tsconfig.json'), jsonSchema: true });
  const result = generator.generate();
  if (process.env.UPDATE_GOLDEN === '1') generator.write(result);

  it('regenerates exactly the committed files', () => {
    expect(generator.stale(result)).toEqual([]);
    expect(result.changes.filter((c) => c.breaking)).toEqual([]);
  });

  it('starts every generated file with the @generated line', () => {
    for (const f of result.files) {
      const first = f.content.split('\n', 2).join('\n');
      expect(first, f.path).toContain(GENERATED);
    }
  });

  const proto = ['catalog', 'admin-console'].map((f) => readFileSync(join(CORPUS, `src/generated/${f}.proto`), 'utf8')).join('\n');
  it.each([
    ['number → double', '  double d = 1;'],
    ['float', '  float f = 2;'],
    ['int32 brand', '  int32 i32 = 3;'],
    ['uint32 brand', '  uint32 u32 = 4;'],
    ['int64 brand', '  int64 i64 = 5;'],
    ['uint64 brand', '  uint64 u64 = 6;'],
    ['sint64 brand', '  sint64 s64 = 7;'],
    ['fixed64 brand', '  fixed64 f64 = 8;'],
    ['bigint → int64', '  int64 big = 9;'],
    ['JSDoc @wire', '  sint32 tagged = 10;'],
    ['string', '  string s = 11;'],
    ['boolean', '  bool b = 12;'],
    ['Date → Timestamp', '  google.protobuf.Timestamp when = 13;'],
    ['Uint8Array → bytes', '  bytes raw = 14;'],
    ['arrays → repeated', '  repeated Point points = 16;'],
    ['Record → map', '  map<string, double> record = 18;'],
    ['Map → map', '  map<string, Point> map = 19;'],
    ['Map with bigint keys', '  map<int64, string> byId = 20;'],
    ['optional', '  optional string opt = 21;'],
    ['| undefined', '  optional string undef = 22;'],
    ['| null', '  optional string nul = 23;'],
    ['string-literal union → enum', '  Color color = 26;'],
    ['numeric TS enum keeps its numbers', '  LEVEL_HIGH = 2;'],
    ['string TS enum → enum', '  MODE_SAFE = 2;'],
    ['inline literal union → enum named after the field', '  EverythingInline inline = 30;'],
    ['discriminated union → oneof', '  oneof kind {'],
    ['generic instantiation → its own message', 'message PageOfPoint {'],
    ['second instantiation', 'message PageOfString {'],
    ['recursive', '  repeated Tree children = 2;'],
    ['type from node_modules', 'message ServiceOptions {'],
    ['nested anonymous types', 'message EverythingNestedDeep {'],
    ['class as data shape (no methods)', 'message Author {\n  string name = 1;\n  optional google.protobuf.Timestamp born = 2;\n}'],
    ['scalar result → wrapper', 'message CountResponse {\n  int32 value = 1;\n}'],
    ['void → Empty', 'rpc ping (google.protobuf.Empty) returns (google.protobuf.Empty);'],
    ['@Method({ name }) → wire name', 'rpc findShape (FindShapeRequest) returns (FindShapeResponse);'],
    ['methods inherited from a base class', 'rpc health (google.protobuf.Empty) returns (HealthResponse) {'],
    ['@Method({ idempotent: true }) → idempotency_level', 'rpc health (google.protobuf.Empty) returns (HealthResponse) {\n    option idempotency_level = IDEMPOTENT;\n  }\n'],
    ['idempotent with a timeout', 'rpc echo (Everything) returns (Everything) { // timeout: 500 ms\n    option idempotency_level = IDEMPOTENT;\n  }\n'],
    ['@Method({ timeout }) → a comment (proto3 has no option for it)', 'rpc count (PageOfPoint) returns (CountResponse); // timeout: 2000 ms\n'],
    ['neither: a plain rpc line', 'rpc ping (google.protobuf.Empty) returns (google.protobuf.Empty);\n'],
  ])('%s', (_row, text) => {
    expect(proto).toContain(text);
  });

  it('writes JSON Schema for every message and enum', () => {
    const schema = JSON.parse(readFileSync(join(CORPUS, 'src/generated/catalog.schema.json'), 'utf8'));
    expect(schema.$comment).toBe(GENERATED);
    const everything = schema.$defs.Everything;
    expect(everything.properties.i64).toEqual({ type: 'string', pattern: '^-?[0-9]+$', format: 'int64' });
    expect(everything.properties.when).toEqual({ type: 'string', format: 'date-time' });
    expect(everything.properties.nul).toEqual({ anyOf: [{ type: 'string' }, { type: 'null' }] });
    expect(everything.required).toContain('when');
    expect(everything.required).not.toContain('opt');
    expect(schema.$defs.Color).toEqual({ enum: ['red', 'green', 'blue'] });
    expect(schema.$defs.Shape.oneOf).toHaveLength(3);
    expect(schema.methods.count).toEqual({ request: 'PageOfPoint', response: 'CountResponse' });
  });

  it('writes @Method({ idempotent, timeout }) into each method of the descriptor, only when set', async () => {
    const { CatalogSchema, AdminConsoleSchema, StockSchema } = await import('./fixtures/corpus/src/generated/index.js');
    expect(CatalogSchema.methods).toEqual([
      // { idempotent: true, timeout: 500 }
      { name: 'echo', request: 'Everything', response: 'Everything', idempotent: true, timeout: 500 },
      // { timeout: COUNT_TIMEOUT }, imported: const COUNT_TIMEOUT: number = 2 * SECOND, const SECOND = 1_000
      { name: 'count', request: 'PageOfPoint', response: 'CountResponse', responseWrapped: true, timeout: 2000 },
      { name: 'ping', request: null, response: null },
      // { name: 'findShape', timeout: 5 * 1000 }
      { name: 'findShape', request: 'FindShapeRequest', response: 'FindShapeResponse', requestWrapped: true, responseWrapped: true, timeout: 5000 },
    ]);
    expect(AdminConsoleSchema.methods).toEqual([
      { name: 'audit', request: 'AuditRequest', response: 'PageOfString' },
      { name: 'health', request: null, response: 'HealthResponse', idempotent: true },
    ]);
    expect(StockSchema.methods.every((m) => !('idempotent' in m) && !('timeout' in m))).toBe(true);
    // They are no wire numbering: the lock does not carry them.
    expect(readFileSync(join(CORPUS, 'svc.lock.json'), 'utf8')).not.toMatch(/idempotent|timeout/);
    const client = readFileSync(join(CORPUS, 'src/generated/catalog.client.ts'), 'utf8');
    expect(client).toContain('  /** Catalog.echo (idempotent, timeout 500 ms) — src/catalog.ts:69 */\n  echo(args: Everything, options?: CallOptions<Everything>): Promise<Everything> {\n');
  });

  it('imports the user types with import type from their own files', () => {
    const client = readFileSync(join(CORPUS, 'src/generated/catalog.client.ts'), 'utf8');
    expect(client).toContain("import type { Catalog, Everything } from '../catalog.js';");
    expect(client).not.toMatch(/^import \{ (Catalog|Everything)[ ,}]/m);
    expect(client).toContain('export class CatalogClient {');
  });

  it('types events: payload messages in the .proto, topics in the descriptor, one typed publisher', async () => {
    const proto = readFileSync(join(CORPUS, 'src/generated/stock.proto'), 'utf8');
    expect(proto).toContain('//   stock.restocked → Restock\n');
    expect(proto).toContain('//   stock.noted → StockNotedEvent (the payload is its field value)\n');
    expect(proto).toContain('//   stock.flushed → none\n');
    expect(proto).toContain('message Restock {\n  string sku = 1;\n  int32 qty = 2;\n  int64 lot = 3;\n  google.protobuf.Timestamp at = 4;\n  optional Color color = 5;\n  map<string, Point> bins = 6;\n}');
    expect(proto).toContain('message StockAdjustedEvent {\n  string sku = 1;\n  int32 delta = 2;\n}');
    const { StockSchema, LedgerSchema, CatalogSchema } = await import('./fixtures/corpus/src/generated/index.js');
    expect(StockSchema.events).toEqual([
      { topic: 'stock.restocked', message: 'Restock' },
      { topic: 'stock.noted', message: 'StockNotedEvent', wrapped: true },
      { topic: 'stock.flushed', message: null },
      { topic: 'stock.adjusted', message: 'StockAdjustedEvent' },
      { topic: 'stock.corrected', message: 'StockAdjustedEvent' },
    ]);
    expect(LedgerSchema.events).toEqual([{ topic: 'stock.restocked', message: 'Restock' }]);
    // A service without @Subscribe keeps its descriptor as before (no events key).
    expect('events' in CatalogSchema).toBe(false);
    const events = readFileSync(join(CORPUS, 'src/generated/events.ts'), 'utf8');
    expect(events).toContain("import type { Restock, Stock } from '../stock.js';");
    expect(events).toContain('  "stock.restocked": Restock;');
    expect(events).toContain('  "stock.noted": string;');
    expect(events).toContain('  "stock.flushed": void;');
    expect(events).toContain(`  "stock.adjusted": Parameters<Stock['onAdjust']>[0];`);
    expect(events).toContain('  publish<T extends EventTopic>(topic: T, ...[payload, options]: PublishArgs<EventMap[T]>): Promise<void> {');
    const jsonSchema = JSON.parse(readFileSync(join(CORPUS, 'src/generated/stock.schema.json'), 'utf8'));
    expect(jsonSchema.events['stock.restocked']).toEqual({ payload: 'Restock' });
    expect(jsonSchema.$defs.Restock.required).toEqual(['sku', 'qty', 'lot', 'at']);
  });
});
