import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConstantBackoff } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { Client, Method, Server, Service, silentLogger, type Logger, type ServiceNode } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { etcdRegistry, type EtcdRegistry } from '../src/index.js';
import { EtcdCluster, eventually, sleep } from './etcd-server.js';

@Service('Echo', { version: '1.2.0' })
class Echo {
  constructor(readonly name: string) {}
  @Method({ idempotent: true })
  async who(): Promise<string> {
    return this.name;
  }
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (m: string): void => void lines.push(m);
  return { lines, debug: () => {}, info: keep, warn: keep, error: keep };
}

let etcd: EtcdCluster;
let raw: Etcd3;
let prefixNo = 0;
let stops: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  etcd = await EtcdCluster.start();
  raw = new Etcd3({ hosts: etcd.hosts });
});
afterAll(async () => {
  raw?.close();
  await etcd?.dispose();
});
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

function registry(options: Partial<Parameters<typeof etcdRegistry>[0]> = {}): EtcdRegistry & { prefix: string } {
  const prefix = options.prefix ?? `/t/${++prefixNo}`;
  const r = etcdRegistry({ hosts: etcd.hosts, prefix, logger: silentLogger, ...options });
  stops.push(() => r.close());
  return Object.assign(r, { prefix });
}

async function echoServer(name: string, reg: EtcdRegistry, extra: { tags?: Record<string, string> } = {}): Promise<{ server: Server; address: string }> {
  const server = new Server({ transport: tcp(), registrar: reg, logger: silentLogger, ...extra }).register(new Echo(name));
  const address = await server.listen('tcp://127.0.0.1:0');
  stops.push(() => server.close({ drainTimeout: 500 }));
  return { server, address };
}

describe('etcdRegistry as a registrar', () => {
  it('registers a TCP server at listen under one lease, with version and tags, and removes it first at close', async () => {
    const reg = registry({ ttl: 5_000 });
    const { server, address } = await echoServer('a', reg, { tags: { zone: 'eu' } });
    const { kvs } = await raw.getAll().prefix(`${reg.prefix}/Echo/`).exec();
    expect(kvs).toHaveLength(1);
    const value = JSON.parse(kvs[0]!.value.toString());
    expect(value).toMatchObject({ service: 'Echo', address, version: '1.2.0', weight: 1, tags: { zone: 'eu' } });
    expect(kvs[0]!.key.toString()).toBe(`${reg.prefix}/Echo/${value.instance}`);
    expect(kvs[0]!.lease).not.toBe('0');
    const ttl = await raw.leaseClient.leaseTimeToLive({ ID: kvs[0]!.lease });
    expect(Number(ttl.grantedTTL)).toBe(5);
    expect(await reg.lookup('Echo')).toEqual([{ address, version: '1.2.0', weight: 1, tags: { zone: 'eu' } }]);
    await server.close();
    expect((await raw.getAll().prefix(`${reg.prefix}/Echo/`).keys()).length).toBe(0);
    // The lease was revoked, not left to expire.
    expect(Number((await raw.leaseClient.leaseTimeToLive({ ID: kvs[0]!.lease })).TTL)).toBe(-1);
  });

  it('registers again when the lease is lost behind its back', async () => {
    const log = recordingLogger();
    const reg = registry({ ttl: 3_000, logger: log });
    const { address } = await echoServer('a', reg);
    const [kv] = (await raw.getAll().prefix(`${reg.prefix}/Echo/`).exec()).kvs;
    await raw.leaseClient.leaseRevoke({ ID: kv!.lease });
    expect(await reg.lookup('Echo')).toEqual([]);
    // The next keep-alive (every ttl/3) hears the lease is gone; a new one is granted.
    await eventually(async () => (await reg.lookup('Echo')).length === 1, 5_000, 'the registration to come back');
    expect((await reg.lookup('Echo'))[0]!.address).toBe(address);
    expect(log.lines.join('\n')).toMatch(/the lease of \S+ was lost .*registering again/);
  });

  it('fails listen clearly when etcd cannot be reached, and refuses names a key cannot hold', async () => {
    const nowhere = etcdRegistry({ hosts: 'http://127.0.0.1:1', callTimeout: 500, logger: silentLogger });
    stops.push(() => nowhere.close());
    const server = new Server({ transport: tcp(), registrar: nowhere, logger: silentLogger }).register(new Echo('x'));
    stops.push(() => server.close());
    await expect(server.listen('tcp://127.0.0.1:0')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/could not register it \(the registry etcd at http:\/\/127\.0\.0\.1:1 cannot be read/) });
    expect(server.addresses).toEqual([]);
    await expect(registry().register([{ service: 'a/b', instance: 'i', address: 'tcp://h:1' }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('etcdRegistry as a registry', () => {
  it('a client follows registrations: a new server gets calls within a second, a closed one none', async () => {
    const reg = registry();
    await echoServer('a', reg);
    const client = new Client({ transport: tcp(), registry: reg, logger: silentLogger });
    stops.push(() => client.close());
    expect(await client.invoke('Echo', 'who', {})).toBe('a');
    const b = await echoServer('b', reg);
    const started = Date.now();
    await eventually(async () => (await client.invoke('Echo', 'who', {})) === 'b', 1_000, 'a call to the new server');
    expect(Date.now() - started).toBeLessThan(1_000);
    await b.server.close();
    for (let i = 0; i < 10; i++) expect(await client.invoke('Echo', 'who', {})).toBe('a');
  });

  it('drops an instance whose lease expires (it died without deregistering)', async () => {
    const reg = registry();
    const lists: (readonly ServiceNode[])[] = [];
    const stop = reg.watch('Echo', (nodes) => lists.push(nodes));
    stops.push(stop);
    // A dead instance: its lease is never kept alive.
    const lease = raw.lease(1, { autoKeepAlive: false });
    await lease.put(`${reg.prefix}/Echo/dead`).value(JSON.stringify({ address: 'tcp://127.0.0.1:9' }));
    await eventually(() => lists.at(-1)?.length === 1, 2_000, 'the instance');
    const seen = Date.now();
    await eventually(() => lists.at(-1)?.length === 0, 4_000, 'the expiry');
    expect(Date.now() - seen).toBeLessThan(3_500);
  });

  it('ignores values that are not records, and keeps at most maxInstances per service', async () => {
    const log = recordingLogger();
    const reg = registry({ maxInstances: 3, logger: log });
    const p = `${reg.prefix}/Echo`;
    const good = { service: 'Echo', address: 'tcp://127.0.0.1:1', version: '1.0.0', tags: { zone: 'eu' } };
    const bad: Record<string, string> = {
      [`${p}/notjson`]: 'not json',
      [`${p}/array`]: JSON.stringify([good]),
      [`${p}/noaddress`]: JSON.stringify({ ...good, address: '' }),
      [`${p}/otherservice`]: JSON.stringify({ ...good, service: 'Billing' }),
      [`${p}/tagnumber`]: JSON.stringify({ ...good, tags: { zone: 1 } }),
      [`${p}/weightneg`]: JSON.stringify({ ...good, weight: -1 }),
      [`${p}/big`]: JSON.stringify({ ...good, tags: { pad: 'x'.repeat(5_000) } }),
      [`${p}/nested/deeper`]: JSON.stringify(good),
      [`${p}/latin1`]: '\u00ff',
    };
    for (const [key, value] of Object.entries(bad)) await raw.put(key).value(value);
    await raw.put(`${p}/ok`).value(JSON.stringify(good));
    expect(await reg.lookup('Echo')).toEqual([{ address: 'tcp://127.0.0.1:1', version: '1.0.0', tags: { zone: 'eu' } }]);
    const lists: (readonly ServiceNode[])[] = [];
    stops.push(reg.watch('Echo', (nodes) => lists.push(nodes)));
    await eventually(() => lists.at(-1)?.length === 1, 2_000, 'the good record');
    // A good record turned bad is gone; a flood of good ones is bounded.
    await raw.put(`${p}/ok`).value('{"address": 5}');
    await eventually(() => lists.at(-1)?.length === 0, 2_000, 'the spoilt record to go');
    for (let i = 0; i < 10; i++) await raw.put(`${p}/flood${i}`).value(JSON.stringify({ address: `tcp://127.0.0.1:${100 + i}` }));
    await eventually(() => lists.at(-1)?.length === 3, 2_000, 'maxInstances records');
    await sleep(100);
    expect(lists.at(-1)).toHaveLength(3);
    expect(log.lines.join('\n')).toMatch(/more than maxInstances \(3\)/);
    // Lookups (a single range read) are bounded the same way.
    expect((await reg.lookup('Echo')).length).toBeLessThanOrEqual(3);
  });
});

describe('etcdRegistry through etcd outages', () => {
  it('resyncs with a full read when its watch comes back after a compaction', async () => {
    const own = await EtcdCluster.start();
    const writer = new Etcd3({ hosts: own.hosts });
    // The watch reconnects 1.5 s after losing its stream: time to write and compact meanwhile.
    const reg = etcdRegistry({ hosts: own.hosts, prefix: '/c', logger: silentLogger, etcd: { faultHandling: { watchBackoff: new ConstantBackoff(1_500) as never } } });
    const lists: (readonly ServiceNode[])[] = [];
    try {
      await writer.put('/c/Echo/a').value(JSON.stringify({ address: 'tcp://127.0.0.1:1' }));
      const stop = reg.watch('Echo', (nodes) => lists.push(nodes));
      await eventually(() => lists.at(-1)?.length === 1, 3_000, 'the first record');
      await sleep(200); // the watch stream is up
      await own.kill(0);
      await own.start(0);
      await writer.delete().key('/c/Echo/a');
      const put = await writer.put('/c/Echo/b').value(JSON.stringify({ address: 'tcp://127.0.0.1:2' })).exec();
      await writer.kv.compact({ revision: put.header.revision, physical: true });
      // The watch's revision is gone: etcd cancels it, and the registry reads the prefix afresh.
      await eventually(() => lists.at(-1)?.map((n) => n.address).join() === 'tcp://127.0.0.1:2', 6_000, 'the list after the compaction');
      stop();
    } finally {
      await reg.close();
      writer.close();
      await own.dispose();
    }
  });

  it('kill -9 and restart of etcd mid-traffic: calls go on to the known servers, registrations come back', async () => {
    const own = await EtcdCluster.start();
    const log = recordingLogger();
    const serversReg = etcdRegistry({ hosts: own.hosts, ttl: 2_000, logger: silentLogger, callTimeout: 1_000 });
    const clientReg = etcdRegistry({ hosts: own.hosts, logger: silentLogger, callTimeout: 1_000 });
    const servers: Server[] = [];
    const client = new Client({ transport: tcp(), registry: clientReg, failMode: 'failover', logger: log, registryCache: { refreshInterval: 300 } });
    try {
      for (const name of ['a', 'b', 'c']) {
        const server = new Server({ transport: tcp(), registrar: serversReg, logger: silentLogger }).register(new Echo(name));
        await server.listen('tcp://127.0.0.1:0');
        servers.push(server);
      }
      await eventually(async () => (await clientReg.lookup('Echo')).length === 3, 3_000, 'three servers');
      let failed = 0;
      let calls = 0;
      const seen = new Set<string>();
      let running = true;
      const traffic = (async () => {
        while (running) {
          calls++;
          await client.invoke<string>('Echo', 'who', {}, { timeout: 1_000 }).then((n) => void seen.add(n), () => void failed++);
        }
      })();
      await eventually(() => seen.size === 3, 3_000, 'calls to all three');
      await own.kill(0);
      const callsBefore = calls;
      await sleep(2_500); // longer than the leases live: they must be kept or granted again
      expect(calls - callsBefore, 'calls while etcd was down').toBeGreaterThan(50);
      await own.start(0);
      // The registrations are there again (kept, or registered under new leases).
      await eventually(async () => (await clientReg.lookup('Echo').catch(() => [])).length === 3, 10_000, 'three registrations after the restart');
      // A server that starts now is seen by the client's watch.
      const late = new Server({ transport: tcp(), registrar: serversReg, logger: silentLogger }).register(new Echo('late'));
      await late.listen('tcp://127.0.0.1:0');
      servers.push(late);
      await eventually(() => seen.has('late'), 5_000, 'calls to a server registered after the restart');
      running = false;
      await traffic;
      expect(failed, 'calls that failed').toBe(0);
      expect(log.lines.join('\n')).toMatch(/registry: not answering/);
    } finally {
      await client.close();
      for (const s of servers) await s.close({ drainTimeout: 200 });
      await serversReg.close();
      await clientReg.close();
      await own.dispose();
    }
  });

  it('a 3-member cluster: with one member killed, lookups, watches and leases go on through the others', async () => {
    const cluster = await EtcdCluster.start(3);
    const reg = etcdRegistry({ hosts: cluster.hosts, ttl: 2_000, logger: silentLogger, callTimeout: 1_000 });
    const servers: Server[] = [];
    const lists: (readonly ServiceNode[])[] = [];
    try {
      for (const name of ['a', 'b']) {
        const server = new Server({ transport: tcp(), registrar: reg, logger: silentLogger }).register(new Echo(name));
        await server.listen('tcp://127.0.0.1:0');
        servers.push(server);
      }
      reg.watch('Echo', (nodes) => lists.push(nodes));
      await eventually(() => lists.at(-1)?.length === 2, 3_000, 'both servers');
      await cluster.kill(0);
      // Beyond the lease TTL: the keep-alives must have gone to the other members.
      await sleep(3_000);
      await eventually(async () => (await reg.lookup('Echo').catch(() => [])).length === 2, 5_000, 'lookups through the other members');
      const late = new Server({ transport: tcp(), registrar: reg, logger: silentLogger }).register(new Echo('late'));
      await late.listen('tcp://127.0.0.1:0');
      servers.push(late);
      await eventually(() => lists.at(-1)?.length === 3, 5_000, 'the watch to see a registration made after the kill');
      expect(lists.at(-1)!.length).toBe(3);
    } finally {
      for (const s of servers) await s.close({ drainTimeout: 200 });
      await reg.close();
      await cluster.dispose();
    }
  });
});
