import { afterEach, describe, expect, it } from 'vitest';
import { checkHealth, Client, Method, Server, Service, staticRegistry } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { jwtVerifier, serverResilience, type ServerPolicy } from '../src/index.js';
import { SECRET, token } from './helpers/auth-tokens.js';
import { RedisServer } from './helpers/redis-server.js';

/** Counts handler runs and the most running at once; `slow` holds its slot until released. */
@Service('Reports')
class Reports {
  runs = 0;
  running = 0;
  mostRunning = 0;
  private releases: (() => void)[] = [];

  @Method({ concurrency: 1 })
  async slow(): Promise<string> {
    this.runs++;
    this.running++;
    this.mostRunning = Math.max(this.mostRunning, this.running);
    try {
      await new Promise<void>((resolve) => this.releases.push(resolve));
      return 'done';
    } finally {
      this.running--;
    }
  }

  @Method({ roles: ['auditor'] })
  async audit(): Promise<string> {
    this.runs++;
    return 'audited';
  }

  @Method()
  async status(): Promise<string> {
    this.runs++;
    return 'up';
  }

  releaseAll(): void {
    for (const release of this.releases.splice(0)) release();
  }
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function serve(policy: ServerPolicy): Promise<{ service: Reports; client: Client; address: string }> {
  const service = new Reports();
  const resilience = serverResilience(policy);
  const server = new Server(resilience.apply({ transport: tcp() })).register(service);
  const address = await server.listen('tcp://127.0.0.1:0');
  const client = new Client({ transport: tcp(), registry: staticRegistry({ Reports: [address] }) });
  open.push(resilience, { close: () => server.close({ drainTimeout: 100 }) }, client);
  return { service, client, address };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(check()).toBe(true);
}

const auth = { verifiers: jwtVerifier({ secret: SECRET }) };

describe('serverResilience', () => {
  it('refuses unknown keys, bad values and roles without auth, naming the path', () => {
    expect(() => serverResilience({ shedding: { target: 5 } } as never)).toThrow(/loadShedder\.target: unknown option/);
    expect(() => serverResilience({ services: { Reports: { methods: { slow: { bulkhead: { concurrency: 1, queu: 2 } } } } } } as never)).toThrow(/serverResilience\.services\.Reports\.methods\.slow\.bulkhead\.queu/);
    expect(() => serverResilience({ services: { Reports: { roles: ['a', ''] } } })).toThrow(/services\.Reports\.roles/);
    expect(() => serverResilience({ services: { Reports: { roles: ['admin'] } } })).toThrow(/roles and anonymous need auth/);
    expect(() => serverResilience({ auth: { ...auth, roles: ['x'] } as never })).toThrow(/auth\.roles: set roles beside auth/);
    expect(() => serverResilience({ token: 'x' } as never)).toThrow(/serverResilience\.token: unknown key/);
  });

  it('gives @Method({ concurrency }) a bulkhead by itself, and a method level overrides it', async () => {
    const { service, client } = await serve({});
    const first = client.invoke('Reports', 'slow', {});
    await until(() => service.running === 1);
    await expect(client.invoke('Reports', 'slow', {})).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused' });
    service.releaseAll();
    await expect(first).resolves.toBe('done');
    expect(service.runs).toBe(1);

    const wider = await serve({ services: { Reports: { methods: { slow: { bulkhead: { concurrency: 2 } } } } } });
    const calls = [wider.client.invoke('Reports', 'slow', {}), wider.client.invoke('Reports', 'slow', {})];
    await until(() => wider.service.running === 2);
    wider.service.releaseAll();
    await expect(Promise.all(calls)).resolves.toEqual(['done', 'done']);
    expect(wider.service.mostRunning).toBe(2);
  });

  it('checks roles from @Method, a service level and a method opened to anonymous callers', async () => {
    const { service, client, address } = await serve({ auth, services: { Reports: { roles: ['clerk'], methods: { status: { anonymous: true } } } } });
    const clerk = { authorization: `Bearer ${await token({ claims: { roles: ['clerk'] } })}` };
    const auditor = { authorization: `Bearer ${await token({ claims: { roles: ['auditor'] } })}` };
    // @Method({ roles: ['auditor'] }) sits under the service's ['clerk']: the service's level is nearer.
    await expect(client.invoke('Reports', 'audit', {}, { metadata: auditor })).rejects.toMatchObject({ code: 'PERMISSION_DENIED', progress: 'refused' });
    await expect(client.invoke('Reports', 'audit', {}, { metadata: clerk })).resolves.toBe('audited');
    await expect(client.invoke('Reports', 'audit', {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(client.invoke('Reports', 'status', {})).resolves.toBe('up');
    expect(service.runs).toBe(2);
    // Health checks pass none of it.
    await expect(checkHealth(client, address)).resolves.toBe('SERVING');
  });

  it('uses @Method({ roles }) when no level sets roles, and finds no settings under inherited names', async () => {
    const { service, client, address } = await serve({ auth, services: { Reports: { bulkhead: { concurrency: 5 } } } });
    const reader = { authorization: `Bearer ${await token()}` };
    const auditor = { authorization: `Bearer ${await token({ claims: { roles: ['auditor'] } })}` };
    await expect(client.invoke('Reports', 'audit', {}, { metadata: reader })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(client.invoke('Reports', 'audit', {}, { metadata: auditor })).resolves.toBe('audited');
    // Service and method names from a peer are looked up as own keys: no prototype settings.
    for (const [s, m] of [['__proto__', 'constructor'], ['Reports', '__proto__'], ['constructor', 'toString']] as const) {
      await expect(client.invoke(s, m, {}, { metadata: reader, address })).rejects.toMatchObject({ code: 'UNIMPLEMENTED' });
    }
    expect(service.runs).toBe(1);
  });

  it('shares its rate limits across servers through rateLimitCluster', async () => {
    const redis = await RedisServer.start();
    open.push({ close: () => redis.stop() });
    const policy: ServerPolicy = { rateLimit: { reservoir: 5, refreshIntervalMs: 60_000 }, rateLimitCluster: { redis: { host: '127.0.0.1', port: redis.port } } };
    const a = await serve(policy);
    const b = await serve(policy);
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).client.invoke('Reports', 'status', {})));
    // One budget of 5 for both servers, not 5 each.
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(5);
    expect(a.service.runs + b.service.runs).toBe(5);
    expect(outcomes.find((o) => o.status === 'rejected')).toMatchObject({ reason: { code: 'RESOURCE_EXHAUSTED', progress: 'refused' } });
  });

  it('sheds when asked, first in line', async () => {
    const resilience = serverResilience({ shedding: {}, rateLimit: { reservoir: 100, refreshIntervalMs: 1_000 } });
    open.push(resilience);
    expect(resilience.shedder).toBeDefined();
    expect(resilience.filters[0]).toBe(resilience.shedder!.filter);
    expect(resilience.filters).toHaveLength(3); // shedder, limit, bulkhead
    expect(resilience.shedder!.state().shedding).toBe(false);
  });
});
