import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { Client, EventContext, Server, Service, Subscribe, silentLogger, staticRegistry } from '@svc/core';
import { nats } from '../src/index.js';
import { NatsServerProcess, eventually, sleep } from '../src/testing/index.js';

function inventory(name: string, log: string[]) {
  @Service('Inventory')
  class Inventory {
    @Subscribe('orders.created')
    async reserve(order: { id: number }, ctx: EventContext): Promise<void> {
      log.push(`${name} reserve ${order.id} ${ctx.metadata.by ?? '-'}`);
    }
    @Subscribe('config.changed', { broadcast: true })
    async reload(change: { key: string }): Promise<void> {
      log.push(`${name} reload ${change.key}`);
    }
    @Subscribe('audit.>', { group: 'auditors' })
    async audit(_: unknown, ctx: EventContext): Promise<void> {
      log.push(`${name} audit ${ctx.topic}`);
    }
    @Subscribe('slow.job')
    async slow(job: { ms: number }): Promise<void> {
      await sleep(job.ms);
      log.push(`${name} slow done`);
    }
  }
  return new Inventory();
}

describe('events over NATS', () => {
  let natsd: NatsServerProcess;
  const log: string[] = [];
  const servers: Server[] = [];
  let client: Client;

  beforeAll(async () => {
    natsd = await NatsServerProcess.start();
    for (const name of ['a', 'b', 'c']) {
      const server = new Server({ transport: nats(), logger: silentLogger }).register(inventory(name, log));
      await server.listen(natsd.url);
      servers.push(server);
    }
    client = new Client({ transport: nats(), registry: staticRegistry({}), eventAddress: natsd.url });
  });

  afterAll(async () => {
    await client?.close();
    for (const s of servers) await s.close({ drainTimeout: 500 });
    await natsd?.dispose();
  });

  it('gives each event of a group subscription to exactly one instance', async () => {
    log.length = 0;
    for (let id = 0; id < 60; id++) await client.publish('orders.created', { id }, { metadata: { by: 'shop' } });
    await eventually(() => log.length === 60, 3_000, '60 deliveries');
    await sleep(100);
    expect(log.length).toBe(60); // no duplicates
    const ids = log.map((l) => Number(l.split(' ')[2])).sort((x, y) => x - y);
    expect(ids).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(new Set(log.map((l) => l.split(' ')[0]))).toEqual(new Set(['a', 'b', 'c']));
    expect(log.every((l) => l.endsWith(' shop'))).toBe(true);
  });

  it('gives a broadcast event to every instance', async () => {
    log.length = 0;
    await client.publish('config.changed', { key: 'limits' });
    await eventually(() => log.length === 3, 3_000, 'three deliveries');
    expect(log.sort()).toEqual(['a reload limits', 'b reload limits', 'c reload limits']);
  });

  it('matches wildcard topics, and takes events from plain NATS publishers', async () => {
    log.length = 0;
    const nc = await connect({ servers: natsd.url });
    try {
      nc.publish('svc.evt.audit.login.failed', JSON.stringify({ user: 'x' }));
      await nc.flush();
    } finally {
      await nc.close();
    }
    await client.publish('audit.logout', {});
    await eventually(() => log.length === 2, 3_000, 'two audit deliveries');
    expect(log.map((l) => l.split(' ').slice(1).join(' ')).sort()).toEqual(['audit audit.login.failed', 'audit audit.logout']);
  });

  it('refuses a topic that is not a subject', async () => {
    await expect(client.publish('orders created', {})).rejects.toThrow(/cannot travel over NATS/);
  });

  it('finishes running handlers on close and stops receiving', async () => {
    const natsd2 = await NatsServerProcess.start();
    const mine: string[] = [];
    const server = new Server({ transport: nats(), logger: silentLogger }).register(inventory('z', mine));
    const c = new Client({ transport: nats(), registry: staticRegistry({}), eventAddress: natsd2.url });
    try {
      await server.listen(natsd2.url);
      await c.publish('slow.job', { ms: 300 });
      await sleep(50);
      await server.close();
      expect(mine).toEqual(['z slow done']);
      await c.publish('orders.created', { id: 1 });
      await sleep(100);
      expect(mine).toEqual(['z slow done']);
    } finally {
      await c.close();
      await server.close();
      await natsd2.dispose();
    }
  });
});
