import { describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { Client, Method, Server, Service, silentLogger } from '@svc/core';
import { nats, natsRegistry } from '../src/index.js';
import { NatsServerProcess, eventually } from '../src/testing/index.js';

@Service('Echo', { version: '1.0.0' })
class Echo {
  @Method()
  async who(args: { n: number }): Promise<number> {
    return args.n;
  }
}

describe('registry records written by someone else', () => {
  it('ignores values that are not records, so lookups of every service go on working', async () => {
    const natsd = await NatsServerProcess.start();
    const server = new Server({ transport: nats({ announce: { ttl: 3_000, tags: { zone: 'a' } } }), logger: silentLogger }).register(new Echo());
    const nc = await connect({ servers: natsd.url });
    const registry = natsRegistry({ servers: natsd.url });
    const client = new Client({ transport: nats(), registry });
    try {
      await server.listen(natsd.url);
      const kv = await nc.jetstream().views.kv('svc_registry');
      const good = { service: 'Echo', version: '1.0.0', address: `${natsd.url}?instance=x`, instance: 'x', tags: {}, weight: 1, ttl: 60_000, started: new Date().toISOString() };
      const bad: Record<string, unknown> = {
        'Echo.notJson': 'not json',
        'Echo.array': [good],
        'Echo.addressNumber': { ...good, address: 5 },
        'Echo.noServer': { ...good, address: 'nats://' },
        'Echo.ttlText': { ...good, ttl: 'forever' },
        'Echo.weightNegative': { ...good, weight: -1 },
        'Echo.tagNumber': { ...good, tags: { zone: 1 } },
        'Echo.versionMissing': { ...good, version: undefined },
      };
      for (const [key, value] of Object.entries(bad)) await kv.put(key, typeof value === 'string' ? value : JSON.stringify(value));
      await registry.ready();
      await eventually(() => registry.instances('Echo').length === 1, 3_000, 'the real instance');
      expect(registry.instances('Echo')).toEqual([expect.objectContaining({ address: server.addresses[0], tags: { zone: 'a' } })]);
      expect(await registry.lookup('Echo')).toEqual([{ address: natsd.url, version: '1.0.0', weight: 1, tags: {} }]);
      expect(await client.invoke('Echo', 'who', { n: 3 })).toBe(3);

      // A malformed value replaces a good record under the same key: that instance is gone.
      await kv.put('Echo.x', JSON.stringify(good));
      await eventually(() => registry.instances('Echo').length === 2, 3_000, 'the written record');
      await kv.put('Echo.x', JSON.stringify({ ...good, ttl: null }));
      await eventually(() => registry.instances('Echo').length === 1, 3_000, 'the record to be dropped');
    } finally {
      await client.close();
      await registry.close();
      await nc.close();
      await server.close();
      await natsd.dispose();
    }
  });
});
