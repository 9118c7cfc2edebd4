import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { Client, Server, schemaCodecs, schemaJsonCodec, staticRegistry, type Codec, type Logger, type Metadata, type PublishOptions, type ServiceSchema } from '@svc/core';
import { nats } from '../src/index.js';
import { NatsServerProcess, eventually, sleep } from '../src/testing/index.js';

// Typed events over a real nats-server, through what svc-gen generated for the codegen corpus
// (packages/codegen/test/fixtures/corpus: the Stock and Ledger services and their EventPublisher).
// Imported by a computed path: the corpus lies outside this package's tsconfig rootDir.
const CORPUS = new URL('../../codegen/test/fixtures/corpus/src', import.meta.url).href;

interface Restock {
  sku: string;
  qty: number;
  lot: bigint;
  at: Date;
  color?: 'red' | 'green' | 'blue';
  bins: Map<string, { x: number; y: number }>;
}
interface Received {
  topic: string;
  payload: unknown;
  metadata: Metadata;
}
interface Corpus {
  Stock: new () => { received: Received[] };
  Ledger: new () => { received: Restock[] };
  EventPublisher: new (client: Client) => { publish(topic: string, payload: unknown, options?: PublishOptions): Promise<void> };
  schemas: readonly ServiceSchema[];
}

const RESTOCK: Restock = {
  sku: 'sku-9',
  qty: -7,
  lot: 2n ** 63n - 1n,
  at: new Date('2038-01-19T03:14:08.001Z'),
  bins: new Map([['b2', { x: 0.25, y: 1e300 }]]),
};

describe('typed events over NATS through the generated publisher', () => {
  let natsd: NatsServerProcess;
  let corpus: Corpus;
  let server: Server;
  let stock: { received: Received[] };
  let ledger: { received: Restock[] };
  const warnings: string[] = [];
  const logger: Logger = { debug: () => {}, info: () => {}, error: () => {}, warn: (m: string) => void warnings.push(m) };

  beforeAll(async () => {
    const stockModule = (await import(`${CORPUS}/stock.ts`)) as Pick<Corpus, 'Stock' | 'Ledger'>;
    const generated = (await import(`${CORPUS}/generated/index.ts`)) as Pick<Corpus, 'EventPublisher' | 'schemas'>;
    corpus = { ...stockModule, ...generated };
    natsd = await NatsServerProcess.start();
    stock = new corpus.Stock();
    ledger = new corpus.Ledger();
    server = new Server({ transport: nats(), codecs: schemaCodecs(corpus.schemas), logger }).register(stock).register(ledger);
    await server.listen(natsd.url);
  });

  afterAll(async () => {
    await server?.close({ drainTimeout: 500 });
    await natsd?.dispose();
  });

  for (const [name, codecs, header] of [
    ['protobuf', () => schemaCodecs(corpus.schemas), 'protobuf'],
    ['JSON', () => [schemaJsonCodec(corpus.schemas)], undefined],
  ] as [string, () => Codec[], string | undefined][]) {
    it(`round trips every payload in ${name}, to each subscribing service`, async () => {
      stock.received.length = 0;
      ledger.received.length = 0;
      // A plain NATS subscriber sees what travels: the codec header and the body.
      const nc = await connect({ servers: natsd.url });
      const seen: { subject: string; codec: string | undefined }[] = [];
      const sub = nc.subscribe('svc.evt.stock.>', { callback: (_e, msg) => seen.push({ subject: msg.subject, codec: msg.headers?.get('Svc-Codec') || undefined }) });
      await nc.flush();
      const client = new Client({ transport: nats(), registry: staticRegistry({}), eventAddress: natsd.url, codecs: codecs() });
      const events = new corpus.EventPublisher(client);
      try {
        await events.publish('stock.restocked', RESTOCK, { metadata: { tenant: 't1' } });
        await events.publish('stock.noted', 'üñí©ødé');
        await events.publish('stock.flushed', undefined);
        await events.publish('stock.corrected', { sku: 's', delta: 2147483647 });
        await eventually(() => stock.received.length === 4 && ledger.received.length === 1, 5_000, 'deliveries');
        const got = Object.fromEntries(stock.received.map((r) => [r.topic, r]));
        expect(got['stock.restocked']!.payload).toEqual(RESTOCK);
        expect(got['stock.restocked']!.metadata).toEqual({ tenant: 't1' });
        expect(got['stock.noted']!.payload).toBe('üñí©ødé');
        expect(got['stock.flushed']!.payload).toBeUndefined();
        expect(got['stock.corrected']!.payload).toEqual({ sku: 's', delta: 2147483647 });
        expect(ledger.received).toEqual([RESTOCK]);
        await eventually(() => seen.length === 4, 2_000, 'the tap');
        expect(seen.map((s) => s.codec)).toEqual(seen.map(() => header));
      } finally {
        sub.unsubscribe();
        await nc.close();
        await client.close();
      }
    });
  }

  it('does not deliver a raw JSON event with a wrong field type, and logs the field path', async () => {
    stock.received.length = 0;
    ledger.received.length = 0;
    warnings.length = 0;
    const nc = await connect({ servers: natsd.url });
    try {
      nc.publish('svc.evt.stock.restocked', JSON.stringify({ sku: 'x', qty: 'three', lot: '1', at: '2024-01-01T00:00:00Z', bins: {} }));
      nc.publish('svc.evt.stock.restocked', JSON.stringify({ sku: 'y', qty: 3, lot: '1', at: '2024-01-01T00:00:00Z', bins: { k: { x: 1, y: 2 } } }));
      await nc.flush();
    } finally {
      await nc.close();
    }
    await eventually(() => stock.received.length === 1 && ledger.received.length === 1 && warnings.length === 2, 5_000, 'one delivery each and two warnings');
    await sleep(100);
    // Only the good one reached the handlers, revived from its JSON forms.
    const good = { sku: 'y', qty: 3, lot: 1n, at: new Date('2024-01-01T00:00:00Z'), bins: new Map([['k', { x: 1, y: 2 }]]) };
    expect(stock.received.map((r) => r.payload)).toEqual([good]);
    expect(ledger.received).toEqual([good]);
    expect(warnings.sort()).toEqual([
      `Ledger.record did not get an event: event 'stock.restocked': payload.qty expected an integer from -2147483648 to 2147483647 (int32), got "three"`,
      `Stock.onRestock did not get an event: event 'stock.restocked': payload.qty expected an integer from -2147483648 to 2147483647 (int32), got "three"`,
    ]);
  });
});
