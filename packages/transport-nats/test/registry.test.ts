import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { Client, Method, RpcError, Server, Service, silentLogger } from '@svc/core';
import { nats, natsRegistry, type NatsRegistry } from '../src/index.js';
import { EchoProcess } from './child-process.js';
import { NatsServerProcess, eventually } from '../src/testing/index.js';

@Service('Echo', { version: '1.2.3' })
class Echo {
  constructor(readonly name: string) {}
  @Method()
  async who(args: { n: number }): Promise<{ name: string; n: number }> {
    if (args.n < 0) throw new RpcError('OUT_OF_RANGE', 'n must not be negative');
    return { name: this.name, n: args.n };
  }
}

describe('registry on JetStream KV', () => {
  let natsd: NatsServerProcess;
  let registry: NatsRegistry;
  const servers: Server[] = [];

  beforeAll(async () => {
    natsd = await NatsServerProcess.start();
    for (const [k, name] of ['a', 'b', 'c'].entries()) {
      const server = new Server({ transport: nats({ announce: { ttl: 3_000, tags: { name }, weight: k + 1 }, reconnectTimeWait: 100 }), logger: silentLogger }).register(new Echo(name));
      await server.listen(natsd.url);
      servers.push(server);
    }
    registry = natsRegistry({ servers: natsd.url, reconnectTimeWait: 100 });
    await registry.ready();
  });

  afterAll(async () => {
    await registry?.close();
    for (const s of servers) await s.close({ drainTimeout: 500 });
    await natsd?.dispose();
  });

  it('lists every instance with its service, version, address, tags and weight', () => {
    const instances = registry.instances('Echo');
    expect(instances.map((i) => i.address).sort()).toEqual(servers.map((s) => s.addresses[0]!).sort());
    for (const i of instances) {
      expect(i.version).toBe('1.2.3');
      expect(['a', 'b', 'c']).toContain(i.tags?.name);
      expect(i.weight).toBe(['a', 'b', 'c'].indexOf(i.tags!.name!) + 1);
    }
    expect(registry.instances('Other')).toEqual([]);
  });

  it("in 'group' mode looks up one logical address and NATS spreads the calls", async () => {
    expect(await registry.lookup('Echo')).toEqual([{ address: natsd.url, version: '1.2.3', weight: 6, tags: {} }]);
    const client = new Client({ transport: nats(), registry });
    try {
      const names = await Promise.all(Array.from({ length: 900 }, (_, n) => client.invoke<{ name: string }>('Echo', 'who', { n })));
      expect(new Set(names.map((r) => r.name))).toEqual(new Set(['a', 'b', 'c']));
      await expect(client.invoke('Missing', 'x', {})).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      await client.close();
    }
  });

  it("in 'instances' mode looks up every instance and the client's selector picks", async () => {
    const own = natsRegistry({ servers: natsd.url, mode: 'instances' });
    const client = new Client({ transport: nats(), registry: own });
    try {
      expect((await own.lookup('Echo')).length).toBe(3);
      const names = await Promise.all(Array.from({ length: 30 }, (_, n) => client.invoke<{ name: string }>('Echo', 'who', { n })));
      const counts = new Map<string, number>();
      for (const r of names) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
      expect([...counts.values()]).toEqual([10, 10, 10]); // round robin over the three instances
    } finally {
      await client.close();
      await own.close(); // the client never closes a registry it was given
    }
  });

  it('drops an instance that shuts down, at once', async () => {
    const server = new Server({ transport: nats({ announce: { ttl: 30_000 } }), logger: silentLogger }).register(new Echo('d'));
    const address = await server.listen(natsd.url);
    await eventually(() => registry.instances('Echo').some((i) => i.address === address), 2_000, 'the new instance to appear');
    const started = Date.now();
    await server.close();
    await eventually(() => !registry.instances('Echo').some((i) => i.address === address), 2_000, 'the instance to be dropped');
    expect(Date.now() - started).toBeLessThan(2_000); // by deregistration, not by its 30 s ttl
  });

  it('drops an instance that dies without deregistering once its ttl passes', async () => {
    const proc = new EchoProcess(natsd.url, 'doomed', 800);
    const address = await proc.address;
    await eventually(() => registry.instances('Echo').some((i) => i.address === address), 3_000, 'the process to register');
    const client = new Client({ transport: nats(), registry });
    try {
      expect(await client.invoke('Echo', 'who', { n: 1 }, { address })).toEqual({ name: 'doomed', n: 1 });
      await proc.kill('SIGKILL');
      const killed = Date.now();
      // Still listed for a while (it never said goodbye), then expires.
      await eventually(() => !registry.instances('Echo').some((i) => i.address === address), 3_000, 'the record to expire');
      expect(Date.now() - killed).toBeGreaterThan(300);
      await expect(client.invoke('Echo', 'who', { n: 1 }, { address })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      await client.close();
      await proc.kill();
    }
  });

  it('keeps watching across a NATS restart, and the instances register again', async () => {
    await natsd.kill();
    await natsd.start();
    // A record written after the restart shows up: the watch was re-established.
    const server = new Server({ transport: nats({ announce: { ttl: 3_000 } }), logger: silentLogger }).register(new Echo('late'));
    const address = await server.listen(natsd.url);
    try {
      await eventually(() => registry.instances('Echo').some((i) => i.address === address), 5_000, 'the post-restart instance');
      // The three first instances refreshed themselves after reconnecting and are still listed.
      await eventually(() => registry.instances('Echo').length === 4, 5_000, 'all four instances');
    } finally {
      await server.close();
    }
  });
});

describe('NATS services protocol ($SRV)', () => {
  it('answers PING, INFO and STATS per name and id, with request and error counts', async () => {
    const natsd = await NatsServerProcess.start();
    const server = new Server({ transport: nats(), logger: silentLogger }).register(new Echo('x'));
    const client = new Client({ transport: nats(), registry: { lookup: () => [{ address: natsd.url }] } });
    const nc = await connect({ servers: natsd.url });
    try {
      const address = await server.listen(natsd.url);
      const id = new URL(address.replace('nats://', 'http://')).searchParams.get('instance')!;
      for (let n = 0; n < 5; n++) await client.invoke('Echo', 'who', { n });
      for (let n = 0; n < 2; n++) await expect(client.invoke('Echo', 'who', { n: -1 })).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });

      const micro = nc.services.client();
      const pings = [];
      for await (const p of await micro.ping()) pings.push(p);
      expect(pings).toEqual([expect.objectContaining({ name: 'Echo', id, version: '1.2.3', type: 'io.nats.micro.v1.ping_response' })]);

      const infos = [];
      for await (const i of await micro.info('Echo', id)) infos.push(i);
      expect(infos).toHaveLength(1);
      expect(infos[0]!.endpoints).toEqual([expect.objectContaining({ name: 'who', subject: 'svc.rpc.Echo.who', queue_group: 'svc.rpc.Echo' })]);
      expect(infos[0]!.metadata).toMatchObject({ 'svc.address': address });

      const stats = [];
      for await (const s of await micro.stats('Echo')) stats.push(s);
      expect(stats).toHaveLength(1);
      const who = stats[0]!.endpoints!.find((e) => e.name === 'who')!;
      expect(who.num_requests).toBe(7);
      expect(who.num_errors).toBe(2);
      expect(who.last_error).toBe('OUT_OF_RANGE: n must not be negative');
      expect(who.processing_time).toBeGreaterThan(0);
    } finally {
      await nc.close();
      await client.close();
      await server.close();
      await natsd.dispose();
    }
  });
});

describe('registry while NATS is away', () => {
  it('fails lookups with UNAVAILABLE while NATS is down, and recovers when it comes up', async () => {
    const natsd = await NatsServerProcess.start();
    await natsd.stop();
    const registry = natsRegistry({ servers: natsd.url, connectTimeout: 1_000 });
    try {
      await expect(registry.lookup('Echo')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('registry') });
      await natsd.start();
      const server = new Server({ transport: nats({ announce: { ttl: 3_000 } }), logger: silentLogger }).register(new Echo('up'));
      await server.listen(natsd.url);
      try {
        expect(await registry.lookup('Echo')).toEqual([expect.objectContaining({ address: natsd.url })]);
      } finally {
        await server.close();
      }
    } finally {
      await registry.close();
      await natsd.dispose();
    }
  });
});
