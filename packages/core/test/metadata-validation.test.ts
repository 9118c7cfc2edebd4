import { describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, inproc, silentLogger, staticRegistry, type CallContext, type Filter, type Metadata } from '../src/index.js';
import { DEFAULT_MAX_METADATA_BYTES, DEFAULT_MAX_METADATA_ENTRIES } from '../src/transport-kit.js';

// What request metadata may hold, and what a caller gets when it holds something else (issue 12, #2, #8).

@Service('Meta')
class Meta {
  calls = 0;

  /** The handler's view: every key a for…in sees (inherited ones too), and whether Object.prototype is behind it. */
  @Method()
  async seen(_: unknown, ctx: CallContext): Promise<{ entries: [string, string][]; objectPrototype: boolean }> {
    this.calls++;
    const entries: [string, string][] = [];
    for (const key in ctx.metadata) entries.push([key, ctx.metadata[key]!]);
    return { entries, objectPrototype: 'hasOwnProperty' in ctx.metadata };
  }

  @Method()
  async sendsMany(request: { entries: number; bytes: number }, ctx: CallContext): Promise<string> {
    const md: Metadata = {};
    for (let i = 0; i < request.entries; i++) md[`k${i}`] = 'v';
    if (request.bytes > 0) md.big = 'x'.repeat(request.bytes);
    try {
      ctx.sendMetadata(md);
    } catch (error) {
      return `${(error as RpcError).code}: ${(error as RpcError).message}`;
    }
    return 'sent';
  }
}

async function rig(options: { filters?: Filter[]; maxMetadataEntries?: number; maxMetadataBytes?: number } = {}) {
  const t = inproc();
  const service = new Meta();
  const server = new Server({ transport: t, logger: silentLogger }).register(service);
  const address = await server.listen('inproc://meta');
  const client = new Client({ transport: t, registry: staticRegistry({ Meta: [address] }), timeout: 2_000, ...options });
  return { server, client, service };
}

const bad = (value: unknown) => value as string;
type Seen = { entries: [string, string][]; objectPrototype: boolean };

describe('request metadata with values that are not strings', () => {
  it('rejects { tenant: undefined } with INVALID_ARGUMENT naming the key, never a synchronous throw', async () => {
    const { server, client, service } = await rig();
    let pending: Promise<unknown> | undefined;
    expect(() => (pending = client.invoke('Meta', 'seen', {}, { metadata: { tenant: bad(undefined) } }))).not.toThrow();
    const error = await pending!.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/request metadata key 'tenant' has an undefined value.*string values/) });
    expect(service.calls).toBe(0);
    await server.close();
  });

  it('rejects numbers, objects and null, naming the key, with and without filters', async () => {
    const passThrough: Filter = (_call, next) => next();
    for (const filters of [[], [passThrough]]) {
      const { server, client } = await rig({ filters });
      for (const [value, kind] of [[5, 'a number'], [{ a: 1 }, 'an object'], [null, 'a null'], [7n, 'a bigint']] as const) {
        await expect(client.invoke('Meta', 'seen', {}, { metadata: { ok: 'fine', count: bad(value) } })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
          message: expect.stringContaining(`key 'count' has ${kind} value`),
        });
      }
      await server.close();
    }
  });

  it('rejects a value a filter set wrong', async () => {
    const addsNumber: Filter = (call, next) => {
      (call.metadata as Record<string, unknown>).attempt = 1;
      return next();
    };
    const { server, client } = await rig({ filters: [addsNumber] });
    await expect(client.invoke('Meta', 'seen', {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("'attempt'") });
    await server.close();
  });

  it('rejects a string with a lone surrogate, which could not arrive as it was sent', async () => {
    const { server, client } = await rig();
    await expect(client.invoke('Meta', 'seen', {}, { metadata: { name: 'a\uD800b' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("'name'") });
    await expect(client.invoke('Meta', 'seen', {}, { metadata: { ['\uDC00']: 'x' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await server.close();
  });

  it('rejects metadata that is not an object', async () => {
    const { server, client } = await rig();
    await expect(client.invoke('Meta', 'seen', {}, { metadata: bad('tenant=acme') as unknown as Metadata })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.invoke('Meta', 'seen', {}, { metadata: ['a'] as unknown as Metadata })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await server.close();
  });
});

describe('what request metadata may hold', () => {
  it('carries empty keys and values, non-ASCII, and __proto__ / constructor as ordinary keys', async () => {
    const { server, client } = await rig();
    const metadata = JSON.parse('{"": "empty key", "e": "", "ключ": "значение 日本 😀", "__proto__": "p", "constructor": "c", "toString": "t"}') as Metadata;
    const seen = await client.invoke<Seen>('Meta', 'seen', {}, { metadata });
    expect(seen.entries.sort()).toEqual(Object.entries(metadata).sort());
    expect(seen.objectPrototype).toBe(false);
    await server.close();
  });

  it('sends own keys only, never inherited ones', async () => {
    const { server, client } = await rig();
    const metadata = Object.create({ inherited: 'from the prototype' }) as Metadata;
    metadata.own = 'yes';
    expect(await client.invoke('Meta', 'seen', {}, { metadata })).toEqual({ entries: [['own', 'yes']], objectPrototype: false });
    await server.close();
  });
});

describe('metadata caps on the sending side', () => {
  it('defaults to 64 entries and 16 KiB', () => {
    expect(DEFAULT_MAX_METADATA_ENTRIES).toBe(64);
    expect(DEFAULT_MAX_METADATA_BYTES).toBe(16 * 1024);
  });

  it('fails a call over the entry cap locally with RESOURCE_EXHAUSTED, before anything is sent', async () => {
    const { server, client, service } = await rig();
    const metadata = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    await expect(client.invoke('Meta', 'seen', {}, { metadata })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/65 entries.*maxMetadataEntries \(64\)/) });
    delete metadata.k64;
    expect((await client.invoke<Seen>('Meta', 'seen', {}, { metadata })).entries).toHaveLength(64);
    expect(service.calls).toBe(1);
    await server.close();
  });

  it('fails a call over the byte cap (keys and values in UTF-8) the same way', async () => {
    const { server, client, service } = await rig();
    // 'é' is 2 bytes in UTF-8: 1 + 8,192 × 2 = 16,385 bytes, one over.
    await expect(client.invoke('Meta', 'seen', {}, { metadata: { k: 'é'.repeat(8_192) } })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/16385 bytes.*maxMetadataBytes \(16384\)/) });
    expect((await client.invoke<Seen>('Meta', 'seen', {}, { metadata: { k: 'é'.repeat(8_191) + 'x' } })).entries[0]![1]).toHaveLength(8_192);
    expect(service.calls).toBe(1);
    await server.close();
  });

  it('takes its caps from ClientOptions', async () => {
    const { server, client } = await rig({ maxMetadataEntries: 2, maxMetadataBytes: 10 });
    await expect(client.invoke('Meta', 'seen', {}, { metadata: { a: '1', b: '2', c: '3' } })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maxMetadataEntries (2)') });
    await expect(client.invoke('Meta', 'seen', {}, { metadata: { a: '123456789012' } })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maxMetadataBytes (10)') });
    await server.close();
  });

  it('refuses response metadata over the caps in ctx.sendMetadata, at once', async () => {
    const { server, client } = await rig();
    expect(await client.invoke('Meta', 'sendsMany', { entries: 65, bytes: 0 })).toMatch(/^RESOURCE_EXHAUSTED: .*maxMetadataEntries \(64\)/);
    expect(await client.invoke('Meta', 'sendsMany', { entries: 1, bytes: 16 * 1024 })).toMatch(/^RESOURCE_EXHAUSTED: .*maxMetadataBytes \(16384\)/);
    expect(await client.invoke('Meta', 'sendsMany', { entries: 64, bytes: 0 })).toBe('sent');
    await server.close();
  });
});
