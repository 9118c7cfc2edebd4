/**
 * Service discovery against real processes (issue 15): three TCP server processes register
 * themselves in etcd (and, in the second scenario, in NATS JetStream KV), a client in this process
 * finds them through the registry's watch and calls them under steady load with failover. A
 * fourth server that starts gets traffic within a second of registering; a server killed with
 * -9 leaves the client's set within its ttl, and no call fails meanwhile.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Client, silentLogger, type AttemptCall, type Filter, type Registry } from '@svc/core';
import { natsRegistry } from '@svc/transport-nats';
import { etcdRegistry } from '@svc/registry-etcd';
import { DISCOVERY_TTL_MS, RegisteredServer, killAllServers } from '../src/discovery-children.js';
import { RegistryProcess } from '../src/registry-servers.js';
import { makeTransport } from '../src/transports.js';

afterAll(killAllServers);

interface Outcome {
  calls: number;
  failed: number;
  failures: string[];
  /** Ms from the fourth server's 'ready' (it is registered) to its first answer. */
  newcomerMs: number;
  /** Attempts sent to the killed server from ttl + 1.5 s after the kill to the end. */
  attemptsToDeadLate: number;
  /** Attempts sent to the killed server in all after the kill (it was still in the set). */
  attemptsToDeadAfterKill: number;
  /** Ms from the kill to the last attempt sent to the killed server: when it left the client's set. */
  leftAfterMs: number;
}

const CALLERS = 16;

async function scenario(backend: 'etcd' | 'nats'): Promise<Outcome> {
  const registryProcess = backend === 'etcd' ? await RegistryProcess.etcd() : await RegistryProcess.jetstream();
  const registry: Registry & { close(): Promise<void> } =
    backend === 'etcd' ? etcdRegistry({ hosts: registryProcess.url, logger: silentLogger }) : natsRegistry({ servers: registryProcess.url, mode: 'instances', reconnectTimeWait: 100 });
  const servers: RegisteredServer[] = [];
  // Attempts per node address, with when each was sent.
  const attempts = new Map<string, number[]>();
  const count: Filter<AttemptCall> = (attempt, next) => {
    const list = attempts.get(attempt.node.address) ?? [];
    list.push(Date.now());
    attempts.set(attempt.node.address, list);
    return next();
  };
  // Idempotent (no generated schemas here to say so): the calls the victim held are retried elsewhere.
  const client = new Client({ transport: makeTransport('tcp'), registry, failMode: 'failover', services: { Where: { idempotent: true } }, attemptFilters: [count], logger: silentLogger });
  const answered = new Map<string, number>(); // server name → time of its first answer
  const outcome: Outcome = { calls: 0, failed: 0, failures: [], newcomerMs: Infinity, attemptsToDeadLate: -1, attemptsToDeadAfterKill: -1, leftAfterMs: -1 };
  let running = true;
  try {
    for (const name of ['s1', 's2', 's3']) servers.push(await RegisteredServer.start(backend, registryProcess.url, name));
    const callers = Array.from({ length: CALLERS }, async () => {
      while (running) {
        outcome.calls++;
        try {
          const name = await client.invoke<string>('Where', 'who', {}, { timeout: 3_000 });
          if (!answered.has(name)) answered.set(name, Date.now());
        } catch (error) {
          outcome.failed++;
          if (outcome.failures.length < 5) outcome.failures.push(String(error));
          await new Promise((r) => setTimeout(r, 10)); // no busy loop if everything fails
        }
      }
    });
    await until(() => answered.size === 3, 5_000, 'answers from all three servers');

    // A fourth server: it gets traffic within a second of being registered.
    const fourth = await RegisteredServer.start(backend, registryProcess.url, 's4');
    const registeredAt = Date.now();
    servers.push(fourth);
    await until(() => answered.has('s4'), 3_000, 'an answer from the fourth server');
    outcome.newcomerMs = answered.get('s4')! - registeredAt;

    // kill -9 one: its calls fail over; it leaves the registry (lease, record ttl) and so the client's set.
    await new Promise((r) => setTimeout(r, 500));
    const victim = servers[0]!;
    const killedAt = Date.now();
    await victim.kill();
    // etcd revokes expired leases twice a second; NATS KV readers prune every 100 ms: 1.5 s of slack.
    const lateFrom = killedAt + DISCOVERY_TTL_MS + 1_500;
    await new Promise((r) => setTimeout(r, lateFrom + 1_000 - Date.now()));
    running = false;
    await Promise.all(callers);
    const toDead = attempts.get(victim.address) ?? [];
    outcome.attemptsToDeadAfterKill = toDead.filter((t) => t > killedAt).length;
    outcome.attemptsToDeadLate = toDead.filter((t) => t >= lateFrom).length;
    outcome.leftAfterMs = Math.max(0, (toDead.at(-1) ?? killedAt) - killedAt);
    return outcome;
  } finally {
    running = false;
    await client.close();
    for (const s of servers) await s.kill();
    await registry.close();
    await registryProcess.dispose();
  }
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('service discovery against real processes', () => {
  for (const backend of ['etcd', 'nats'] as const) {
    it(`${backend}: a new server gets traffic within 1 s; a kill -9 leaves the set within its ttl and no call fails`, async () => {
      const r = await scenario(backend);
      console.log(`${backend}: ${r.calls} calls, ${r.failed} failed; newcomer's first answer ${r.newcomerMs} ms after it registered; attempts to the killed server after the kill ${r.attemptsToDeadAfterKill} (the last ${r.leftAfterMs} ms after it; ttl ${DISCOVERY_TTL_MS} ms), from ttl + 1.5 s on ${r.attemptsToDeadLate}`);
      expect(r.calls, 'calls made').toBeGreaterThan(1_000);
      expect(r.failed, `failed calls:\n${r.failures.join('\n')}`).toBe(0);
      expect(r.newcomerMs, 'ms from registration to the first answer of the new server').toBeLessThan(1_000);
      expect(r.attemptsToDeadLate, 'attempts to the killed server once its ttl has passed').toBe(0);
    });
  }
});
