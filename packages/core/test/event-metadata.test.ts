import { describe, expect, it } from 'vitest';
import { Client, EventContext, RpcError, Server, Service, Subscribe, inproc, silentLogger, staticRegistry, type Metadata } from '../src/index.js';

// Event metadata follows the rules of call metadata on every transport (NATS checked it, inproc
// passed anything on): string values, own keys only, the caps, a map without Object.prototype.

@Service('Audit')
class Audit {
  seen: Metadata[] = [];
  @Subscribe('audit.entry')
  async entry(_: unknown, ctx: EventContext): Promise<void> {
    this.seen.push(ctx.metadata);
  }
}

async function setup(): Promise<{ audit: Audit; client: Client; close: () => Promise<void> }> {
  const t = inproc();
  const audit = new Audit();
  const server = new Server({ transport: t, logger: silentLogger }).register(audit);
  await server.listen('inproc://audit');
  const client = new Client({ transport: t, registry: staticRegistry({}), eventAddress: 'inproc://bus', maxMetadataEntries: 2 });
  return { audit, client, close: async () => (await client.close(), await server.close()) };
}

describe('event metadata', () => {
  it('refuses a value that is not a string with INVALID_ARGUMENT naming the key, and delivers nothing', async () => {
    const { audit, client, close } = await setup();
    const publishing = client.publish('audit.entry', {}, { metadata: { who: 'ann', count: 5 as unknown as string } });
    await expect(publishing).rejects.toSatisfy((e: unknown) => RpcError.is(e, 'INVALID_ARGUMENT') && /'count'/.test((e as Error).message));
    await client.publish('audit.entry', {}, { metadata: { who: 'bob' } });
    for (let i = 0; i < 100 && audit.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(audit.seen).toHaveLength(1);
    expect(audit.seen[0]!.who).toBe('bob');
    await close();
  });

  it('holds the client to its caps', async () => {
    const { client, close } = await setup();
    await expect(client.publish('audit.entry', {}, { metadata: { a: '1', b: '2', c: '3' } })).rejects.toSatisfy((e: unknown) => RpcError.is(e, 'RESOURCE_EXHAUSTED'));
    await close();
  });

  it('hands the subscriber own keys only, __proto__ among them, in a map without Object.prototype', async () => {
    const { audit, client, close } = await setup();
    const sent = Object.create({ inherited: 'no' }) as Metadata;
    Object.defineProperty(sent, '__proto__', { value: 'kept', enumerable: true, writable: true, configurable: true });
    sent.who = 'cy';
    await client.publish('audit.entry', {}, { metadata: sent });
    for (let i = 0; i < 100 && audit.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const got = audit.seen[0]!;
    expect(Object.keys(got).sort()).toEqual(['__proto__', 'who']);
    expect(Object.hasOwn(got, '__proto__') && got['__proto__']).toBe('kept');
    expect('inherited' in got).toBe(false);
    expect(Object.prototype.isPrototypeOf.call(Object.prototype, got)).toBe(false);
    await close();
  });
});
