import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type KV, type NatsConnection } from 'nats';
import { Client, Method, Server, Service, inproc, silentLogger, type Logger, type ServiceNode } from '@svc/core';
import { natsRegistrar, natsRegistry } from '../src/index.js';
import { NatsServerProcess, eventually, sleep } from '../src/testing/index.js';

@Service('Echo', { version: '1.4.0' })
class Echo {
  constructor(readonly name: string) {}
  @Method()
  async who(): Promise<string> {
    return this.name;
  }
}

let natsd: NatsServerProcess;
let nc: NatsConnection;
let bucketNo = 0;

beforeAll(async () => {
  natsd = await NatsServerProcess.start();
  nc = await connect({ servers: natsd.url });
});
afterAll(async () => {
  await nc?.close();
  await natsd?.dispose();
});

async function freshBucket(): Promise<{ bucket: string; kv: KV }> {
  const bucket = `watch_${++bucketNo}`;
  return { bucket, kv: await nc.jetstream().views.kv(bucket, { history: 1 }) };
}

function record(instance: string, ttl: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ service: 'Echo', version: '1.0.0', address: `tcp://${instance}.test:7000`, instance, tags: {}, weight: 1, ttl, started: new Date().toISOString(), ...extra });
}

describe('natsRegistry watch and ttl', () => {
  it('does not take a record left long ago as fresh: a new reader ages it by the bucket clock', async () => {
    const { bucket, kv } = await freshBucket();
    await kv.put('Echo.old', record('old', 400));
    await sleep(800);
    await kv.put('Echo.new', record('new', 60_000));
    const registry = natsRegistry({ servers: natsd.url, bucket, mode: 'instances' });
    try {
      await registry.ready();
      // 'old' was written 800 ms before the newest write and lives 400 ms: gone at once.
      expect(registry.instances('Echo').map((i) => i.instance)).toEqual(['new']);
    } finally {
      await registry.close();
    }
  });

  it("ignores a record under another record's key, one too large, and keeps at most maxRecords", async () => {
    const { bucket, kv } = await freshBucket();
    const warns: string[] = [];
    const logger: Logger = { debug: () => {}, info: () => {}, warn: (m) => void warns.push(m), error: () => {} };
    await kv.put('Echo.a', record('b', 60_000)); // says instance b under a's key
    await kv.put('Echo.big', record('big', 60_000, { tags: { pad: 'x'.repeat(5_000) } }));
    for (let i = 0; i < 8; i++) await kv.put(`Echo.n${i}`, record(`n${i}`, 60_000));
    const registry = natsRegistry({ servers: natsd.url, bucket, mode: 'instances', maxRecords: 5, logger });
    try {
      await registry.ready();
      const seen = registry.instances('Echo').map((i) => i.instance);
      expect(seen).toHaveLength(5);
      expect(seen).not.toContain('b');
      expect(seen).not.toContain('big');
      expect(warns.join('\n')).toMatch(/more than maxRecords \(5\)/);
      // A flood of new keys later is bounded too.
      for (let i = 0; i < 20; i++) await kv.put(`Echo.later${i}`, record(`later${i}`, 60_000));
      await sleep(200);
      expect(registry.instances('Echo')).toHaveLength(5);
    } finally {
      await registry.close();
    }
  });

  it('watch: the current list first, then every change, and an expiry', async () => {
    const { bucket, kv } = await freshBucket();
    await kv.put('Echo.a', record('a', 60_000));
    const registry = natsRegistry({ servers: natsd.url, bucket, mode: 'instances' });
    const lists: (readonly ServiceNode[])[] = [];
    try {
      const stop = registry.watch('Echo', (nodes) => lists.push(nodes));
      await eventually(() => lists.length > 0 && lists.at(-1)!.length === 1, 3_000, 'the first list');
      await kv.put('Echo.short', record('short', 500));
      await eventually(() => lists.at(-1)!.length === 2, 3_000, 'the added record');
      // Not refreshed: it expires by its own ttl and the watchers are told.
      await eventually(() => lists.at(-1)!.length === 1, 3_000, 'the expiry');
      const count = lists.length;
      // A refresh with the same value is no change.
      await kv.put('Echo.a', record('a', 60_000).replace(/"started":"[^"]+"/, `"started":"${JSON.parse(record('a', 1)).started}"`));
      stop();
      await kv.put('Echo.c', record('c', 60_000));
      await sleep(200);
      expect(lists.length).toBeLessThanOrEqual(count + 1);
    } finally {
      await registry.close();
    }
  });

  it('natsRegistrar: a server on another transport registers in the bucket, is called through it, and leaves it at close', async () => {
    const { bucket } = await freshBucket();
    const registrar = natsRegistrar({ servers: natsd.url, bucket, ttl: 3_000 });
    const registry = natsRegistry({ servers: natsd.url, bucket }); // group mode: non-NATS addresses stay one by one
    const transport = inproc();
    const server = new Server({ transport, registrar, tags: { zone: 'eu' }, logger: silentLogger }).register(new Echo('inproc-1'));
    const client = new Client({ transport, registry, logger: silentLogger });
    try {
      const address = await server.listen(`inproc://nats-registrar-${Math.random()}`);
      await eventually(() => registry.instances('Echo').length === 1, 3_000, 'the registered instance');
      expect(registry.instances('Echo')[0]).toMatchObject({ address, version: '1.4.0', tags: { zone: 'eu' }, weight: 1 });
      expect(await registry.lookup('Echo')).toEqual([{ address, version: '1.4.0', weight: 1, tags: { zone: 'eu' } }]);
      expect(await client.invoke('Echo', 'who', {})).toBe('inproc-1');
      await server.close();
      await eventually(() => registry.instances('Echo').length === 0, 3_000, 'the deregistration');
    } finally {
      await client.close();
      await server.close();
      await registrar.close();
      await registry.close();
    }
  });

  it('natsRegistrar: refuses names a KV key cannot hold, and fails clearly without NATS', async () => {
    const registrar = natsRegistrar({ servers: natsd.url });
    await expect(registrar.register([{ service: 'a.b', instance: 'x', address: 'tcp://h:1' }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const nowhere = natsRegistrar({ servers: 'nats://127.0.0.1:1', connectTimeout: 500 });
    await expect(nowhere.register([{ service: 'Echo', instance: 'x', address: 'tcp://h:1' }])).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('registry') });
    await registrar.close();
  });
});

describe('natsRegistry across a NATS restart', () => {
  it('keeps the list while NATS is down (lookups say it is down), does not revive a dead record, and follows again after', async () => {
    const own = await NatsServerProcess.start();
    const writer = await connect({ servers: own.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    const kv = await writer.jetstream().views.kv('svc_registry', { history: 1 });
    const registry = natsRegistry({ servers: own.url, mode: 'instances', reconnectTimeWait: 100 });
    const lists: (readonly ServiceNode[])[] = [];
    try {
      await kv.put('Echo.dead', record('dead', 2_500));
      await kv.put('Echo.alive', record('alive', 60_000));
      const written = Date.now();
      await registry.ready();
      registry.watch('Echo', (nodes) => lists.push(nodes));
      await eventually(() => lists.at(-1)?.length === 2, 3_000, 'both records');
      // Most of the dead record's ttl passes before the outage: a watch that restarted its ttl
      // after the restart would keep it well past written + ttl + outage.
      await sleep(1_500 - (Date.now() - written));
      await own.kill();
      await eventually(async () => (await registry.lookup('Echo').then(() => undefined, (e: unknown) => e)) !== undefined, 3_000, 'lookups to fail');
      await expect(registry.lookup('Echo')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('down') });
      expect(registry.instances('Echo')).toHaveLength(2);
      await sleep(300);
      await own.start();
      await eventually(async () => (await registry.lookup('Echo').catch(() => [])).length >= 1, 5_000, 'lookups after the restart');
      // The dead record lives its ttl plus the time NATS was away, not a ttl counted from the restart.
      await eventually(() => registry.instances('Echo').length === 1, 5_000, 'the dead record to expire');
      expect(Date.now() - written).toBeLessThan(2_500 + 1_500);
      expect(lists.at(-1)!.map((n) => n.address)).toEqual([JSON.parse(record('alive', 1)).address]);
      // The watch follows writes made after the restart.
      await kv.put('Echo.later', record('later', 60_000));
      await eventually(() => lists.at(-1)!.length === 2, 5_000, 'a record written after the restart');
    } finally {
      await registry.close();
      await writer.close();
      await own.dispose();
    }
  });
});
