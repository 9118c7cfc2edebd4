import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, RpcError, Server, inproc, jsonCodec, protobufCodec, schemaJsonCodec, silentLogger, staticRegistry, type Codec, type Transport } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { CodegenFailure, Generator } from '../src/index.js';
import { Prices } from './fixtures/corpus/src/prices.js';
import { PricesClient, schemas } from './fixtures/corpus/src/generated/index.js';
import { tempProject } from './helpers.js';

// The corpus service Prices (test/fixtures/corpus/src/prices.ts) has every shape; its generated
// files are committed and checked by golden.test.ts, its client's types by client-types.ts.

describe('the reader reads stream shapes from the types', () => {
  const project = tempProject({
    'src/shapes.ts': `import { Method, Service, type StreamContext } from '@svc/core';

export interface Q { symbol: string }
export interface E { price: number }

@Service('Shapes')
export class Shapes {
  @Method() async unary(q: Q): Promise<E> { return { price: 1 }; }
  @Method() async *generator(q: Q, ctx: StreamContext): AsyncGenerator<E, void, undefined> { yield { price: 1 }; }
  @Method() iterable(q: Q): AsyncIterable<E> { return this.generator(q, undefined!); }
  @Method() async *iterator(q: Q): AsyncIterableIterator<E> { yield { price: 1 }; }
  @Method() async promised(q: Q): Promise<AsyncIterable<E>> { return this.iterator(q); }
  @Method() async client(chunks: AsyncIterable<Q>): Promise<E> { return { price: 1 }; }
  @Method() async clientVoid(chunks: AsyncIterable<Q>): Promise<void> {}
  @Method() async *bidi(messages: AsyncIterable<Q>): AsyncGenerator<E> { for await (const q of messages) yield { price: q.symbol.length }; }
  @Method() async *scalars(messages: AsyncIterable<string>): AsyncGenerator<number> { yield 1; }
  @Method() async *beats(): AsyncGenerator<void> { yield; }
}
`,
  });
  afterAll(() => project.remove());
  const generator = new Generator({ tsconfig: project.tsconfig });
  const result = generator.generate();
  const methods = new Map(result.services.find((o) => o.draft.name === 'Shapes')!.draft.methods.map((m) => [m.name, m]));
  const file = (suffix: string): string => result.files.find((f) => f.path.endsWith(suffix))!.content;

  it.each([
    ['unary', undefined, 'Q', 'E'],
    ['generator', 'server', 'Q', 'E'],
    ['iterable', 'server', 'Q', 'E'],
    ['iterator', 'server', 'Q', 'E'],
    ['promised', 'server', 'Q', 'E'],
    ['client', 'client', 'Q', 'E'],
    ['clientVoid', 'client', 'Q', null],
    ['bidi', 'bidi', 'Q', 'E'],
    ['scalars', 'bidi', 'ScalarsRequest', 'ScalarsResponse'],
    ['beats', 'server', null, null],
  ])('%s: shape %s, request %s, response %s (the elements of the streamed sides)', (name, stream, request, response) => {
    const m = methods.get(name)!;
    expect(m.stream).toBe(stream);
    expect(m.request).toBe(request);
    expect(m.response).toBe(response);
  });

  it('wraps scalar elements as a unary request or response is wrapped', () => {
    expect(methods.get('scalars')).toMatchObject({ requestWrapped: true, responseWrapped: true });
    expect(file('shapes.proto')).toContain('message ScalarsRequest {\n  string value = 1;\n}');
    expect(file('shapes.proto')).toContain('message ScalarsResponse {\n  double value = 1;\n}');
  });

  it('puts stream on the iterable side of the .proto', () => {
    const proto = file('shapes.proto');
    expect(proto).toContain('  rpc unary (Q) returns (E);\n');
    expect(proto).toContain('  rpc generator (Q) returns (stream E);\n');
    expect(proto).toContain('  rpc promised (Q) returns (stream E);\n');
    expect(proto).toContain('  rpc client (stream Q) returns (E);\n');
    expect(proto).toContain('  rpc clientVoid (stream Q) returns (google.protobuf.Empty);\n');
    expect(proto).toContain('  rpc bidi (stream Q) returns (stream E);\n');
    expect(proto).toContain('  rpc beats (google.protobuf.Empty) returns (stream google.protobuf.Empty);\n');
    expect(proto).toContain('import "google/protobuf/empty.proto";');
  });

  it('puts the shape on the descriptor\'s stream methods, and none on unary ones', () => {
    const schema = result.services.find((o) => o.draft.name === 'Shapes')!.schema;
    expect(schema.methods.find((m) => m.name === 'bidi')).toEqual({ name: 'bidi', request: 'Q', response: 'E', stream: 'bidi' });
    expect(schema.methods.find((m) => m.name === 'generator')).toMatchObject({ stream: 'server' });
    expect(schema.methods.find((m) => m.name === 'client')).toMatchObject({ stream: 'client' });
    expect(schema.methods.find((m) => m.name === 'unary')).not.toHaveProperty('stream');
  });

  it('emits client methods calling serverStream, clientStream and bidiStream', () => {
    const client = file('shapes.client.ts');
    expect(client).toContain("import type { CallOptions, Client, StreamOptions } from '@svc/core';");
    expect(client).toContain('  /** Shapes.generator (server stream) — src/shapes.ts:9 */\n  generator(q: Q, options?: StreamOptions): AsyncIterable<E> {\n    return this.#client.serverStream<E>("Shapes", "generator", q, options);\n  }');
    expect(client).toContain('  client(chunks: AsyncIterable<Q> | Iterable<Q>, options?: StreamOptions): Promise<E> {\n    return this.#client.clientStream<E, Q>("Shapes", "client", chunks, options);\n  }');
    expect(client).toContain('  clientVoid(chunks: AsyncIterable<Q> | Iterable<Q>, options?: StreamOptions): Promise<void> {\n    return this.#client.clientStream<void, Q>("Shapes", "clientVoid", chunks, options);\n  }');
    expect(client).toContain('  /** Shapes.bidi (bidirectional stream) — src/shapes.ts:15 */\n  bidi(messages: AsyncIterable<Q> | Iterable<Q>, options?: StreamOptions): AsyncIterable<E> {\n    return this.#client.bidiStream<E, Q>("Shapes", "bidi", messages, options);\n  }');
    expect(client).toContain('  scalars(messages: AsyncIterable<string> | Iterable<string>, options?: StreamOptions): AsyncIterable<number> {');
    expect(client).toContain('  unary(q: Q, options?: CallOptions<E>): Promise<E> {');
    expect(client).toContain('  beats(options?: StreamOptions): AsyncIterable<void> {\n    return this.#client.serverStream<void>("Shapes", "beats", undefined, options);\n  }');
  });

  it('records the shape in the lock; changing it is a breaking change', () => {
    generator.write(result);
    expect(result.lock.services.Shapes!.methods).toMatchObject({ unary: { request: 'Q', response: 'E' }, generator: { stream: 'server' }, client: { stream: 'client' }, bidi: { stream: 'bidi' } });
    expect(result.lock.services.Shapes!.methods.unary).not.toHaveProperty('stream');
    const source = readFileSync(join(project.root, 'src/shapes.ts'), 'utf8');
    project.write('src/shapes.ts', source
      .replace('async unary(q: Q): Promise<E> { return { price: 1 }; }', 'async *unary(q: Q): AsyncGenerator<E> { yield { price: 1 }; }')
      .replace('async *bidi(messages: AsyncIterable<Q>): AsyncGenerator<E> { for await (const q of messages) yield { price: q.symbol.length }; }', 'async bidi(messages: AsyncIterable<Q>): Promise<E> { return { price: 1 }; }'));
    const again = new Generator({ tsconfig: project.tsconfig }).generate();
    expect(again.changes.filter((c) => c.breaking).map((c) => `${c.subject}: ${c.message}`)).toEqual([
      'Shapes.unary: shape changed from unary to server stream; callers built before get UNIMPLEMENTED',
      'Shapes.bidi: shape changed from bidirectional stream to client stream; callers built before get UNIMPLEMENTED',
    ]);
  });
});

describe('stream shapes svc-gen refuses', () => {
  it('reports each, with the element types mapped as unary messages are', () => {
    const bad = tempProject({
      'src/bad.ts': `import { Method, Service } from '@svc/core';

export interface Q { symbol: string }

@Service('BadStreams')
export class BadStreams {
  @Method() *sync(q: Q): Generator<Q> { yield q; }
  @Method() iterable(q: Q): Iterable<Q> { return [q]; }
  @Method() async param(chunks: AsyncIterableIterator<Q>): Promise<void> {}
  @Method() async *anyElement(q: Q): AsyncGenerator<any> { yield 1; }
  @Method() async unknownChunks(chunks: AsyncIterable<unknown>): Promise<void> {}
  @Method() async *fnElement(messages: AsyncIterable<Q>): AsyncGenerator<() => void> { yield () => {}; }
}
`,
    });
    let failure: CodegenFailure | undefined;
    try {
      new Generator({ tsconfig: bad.tsconfig }).generate();
    } catch (error) {
      failure = error as CodegenFailure;
    } finally {
      bad.remove();
    }
    expect(failure).toBeInstanceOf(CodegenFailure);
    const messages = failure!.errors.map((e) => e.message);
    expect(messages, messages.join('\n')).toHaveLength(6);
    for (const [what, hint] of [
      ['BadStreams.sync → returns: a Generator is not a stream: the server sends the messages of an AsyncIterable only', 'async *sync(…): AsyncGenerator<Q>'],
      ['BadStreams.iterable → returns: an Iterable is not a stream', 'or return an AsyncIterable'],
      ["BadStreams.param → chunks: a client stream's messages arrive as an AsyncIterable, not an AsyncIterableIterator", 'Type the parameter AsyncIterable<Q>'],
      ["BadStreams.anyElement → returns (each message): 'any' has no wire shape", 'Give it a concrete type'],
      ["BadStreams.unknownChunks → chunks (each message): 'unknown' has no wire shape", 'Give it a concrete type'],
      ['BadStreams.fnElement → returns (each message): functions cannot travel over the wire', 'Send data instead'],
    ] as const) {
      const message = messages.find((m) => m.includes(what));
      expect(message, messages.join('\n')).toBeDefined();
      expect(message).toMatch(/^src\/bad\.ts:\d+:\d+ /);
      expect(message).toContain(hint);
    }
  });
});

const codecs: [string, () => Codec][] = [
  ['protobuf', () => protobufCodec({ schemas })],
  ['schema JSON', () => schemaJsonCodec({ schemas })],
];
const transports: [string, () => Transport, string][] = [['inproc', () => inproc(), 'inproc://prices']];
if (existsSync(new URL('../../transport-tcp/dist/index.js', import.meta.url))) transports.push(['tcp', () => tcp(), 'tcp://127.0.0.1:0']);
const runs = transports.flatMap(([t, transport, address]) => codecs.map(([c, codec]) => [t, c, transport, address, codec] as const));

describe.each(runs)('the generated client streams over %s with the %s codec', (_t, _c, makeTransport, listenAddress, codec) => {
  let server: Server;
  let client: Client;
  let prices: PricesClient;

  beforeAll(async () => {
    const transport = makeTransport();
    server = new Server({ transport, codecs: [codec()], logger: silentLogger }).register(new Prices());
    const address = await server.listen(listenAddress);
    client = new Client({ transport, registry: staticRegistry({ Prices: [address] }), codecs: [codec()] });
    prices = new PricesClient(client);
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('iterates a server stream', async () => {
    const ticks = [];
    for await (const tick of prices.watch({ symbol: 'ACME', count: 3 })) ticks.push(tick);
    expect(ticks).toEqual([0, 1, 2].map((i) => ({ symbol: 'ACME', price: 100 + i, at: new Date(i * 1000) })));
  });

  it('iterates a server stream without a request, of wrapped scalars', async () => {
    const times = [];
    for await (const at of prices.clock()) times.push(at);
    expect(times).toEqual([0, 1, 2].map((i) => new Date(i * 60_000)));
  });

  it('leaves a server stream early', async () => {
    let n = 0;
    for await (const tick of prices.watch({ symbol: 'ACME', count: 1000 })) {
      expect(tick.price).toBe(100);
      n++;
      break;
    }
    expect(n).toBe(1);
  });

  it("throws the handler's error from the loop", async () => {
    const loop = async (): Promise<void> => {
      for await (const _ of prices.watch({ symbol: 'BAD', count: 1 })) void _;
    };
    await expect(loop()).rejects.toBeInstanceOf(RpcError);
    await expect(loop()).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'no symbol BAD' });
  });

  it('sends a client stream from an Iterable and from an AsyncIterable', async () => {
    const chunks = [{ data: new Uint8Array(3) }, { data: new Uint8Array(4) }];
    expect(await prices.upload(chunks)).toEqual({ bytes: 7, count: 2 });
    expect(await prices.upload((async function* () { yield* chunks; })())).toEqual({ bytes: 7, count: 2 });
    expect(await prices.sum([1, 2, 3.5])).toBe(6.5);
  });

  it('runs a bidirectional stream', async () => {
    const said = [];
    for await (const s of prices.chat([{ text: 'hi' }, { text: 'there' }])) said.push(s);
    expect(said).toEqual([{ text: 'HI', seq: 1 }, { text: 'THERE', seq: 2 }]);
    const pairs = [];
    for await (const p of prices.pair([{ key: 'a' }, { key: 'b' }])) pairs.push(p);
    expect(pairs).toEqual([{ key: 'a', n: 0 }, { key: 'b', n: 1 }]);
  });

  it('still calls unary methods beside the streams', async () => {
    expect(await prices.last({ symbol: 'ACME', count: 2 })).toEqual({ symbol: 'ACME', price: 101, at: new Date(1000) });
    expect(await prices.last({ symbol: 'ACME', count: 0 })).toBeNull();
  });
});

describe('the generated client streams with the plain JSON codec', () => {
  it('iterates a server stream (dates arrive as strings: plain JSON has no schema)', async () => {
    const transport = inproc();
    const server = new Server({ transport, codecs: [jsonCodec()], logger: silentLogger }).register(new Prices());
    const address = await server.listen('inproc://prices-json');
    const client = new Client({ transport, registry: staticRegistry({ Prices: [address] }), codecs: [jsonCodec()] });
    try {
      const prices = new PricesClient(client);
      const ticks = [];
      for await (const tick of prices.watch({ symbol: 'ACME', count: 2 })) ticks.push(tick);
      expect(ticks.map((t) => t.price)).toEqual([100, 101]);
      expect(await prices.sum([1, 2])).toBe(3);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
