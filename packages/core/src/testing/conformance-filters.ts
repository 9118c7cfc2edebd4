import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../client/client.js';
import { staticRegistry } from '../client/registry.js';
import type { AttemptCall } from '../client/attempt.js';
import type { RpcError } from '../errors/rpc-error.js';
import type { Call, Filter } from '../filter/filter.js';
import { Server } from '../server/server.js';
import { silentLogger } from '../logger.js';
import { ConformanceService } from './conformance-service.js';
import type { ConformanceTarget } from './conformance.js';

/** A filter written the usual way, logging how its next() settled and that its finally ran. */
function recording<C extends Call>(log: string[], label: string): Filter<C> {
  return async (_call, next) => {
    try {
      const value = await next();
      log.push(`${label} ok`);
      return value;
    } catch (error) {
      log.push(`${label} ${(error as RpcError).code}`);
      throw error;
    } finally {
      log.push(`${label} finally`);
    }
  };
}

async function until(condition: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

/**
 * Every pending next() settles with the call's error when a call ends early (deadline, the
 * caller's cancel), at both filter levels, whatever the transport: a filter's `finally` always
 * runs, and the handler is told. Part of describeTransportConformance.
 */
export function describeFilterSettling(name: string, setup: () => Promise<ConformanceTarget>): void {
  describe(`filters settle when a call ends early: ${name}`, () => {
    let target: ConformanceTarget;
    let server: Server;
    let service: ConformanceService;
    let address: string;
    const clients: Client[] = [];
    const log: string[] = [];
    const clientWith = (levels: 'call' | 'both'): Client => {
      const client = new Client({
        transport: target.clientTransport ?? target.transport,
        registry: staticRegistry({ Conformance: [address] }),
        filters: [recording(log, 'call')],
        attemptFilters: levels === 'both' ? [recording<AttemptCall>(log, 'attempt')] : [],
        failMode: levels === 'both' ? 'failover' : 'failfast',
        services: { Conformance: { methods: { wait: { idempotent: true } } } },
      });
      clients.push(client);
      return client;
    };

    beforeAll(async () => {
      target = await setup();
      service = new ConformanceService();
      server = new Server({ transport: target.transport, logger: silentLogger, drainTimeout: 1_000 }).register(service);
      address = await server.listen(target.listenAddress);
    });
    afterAll(async () => {
      for (const client of clients) await client.close();
      await server?.close({ drainTimeout: 500 });
      await target?.teardown?.();
    });

    for (const levels of ['call', 'both'] as const) {
      const expected = (code: string) => (levels === 'both' ? [`attempt ${code}`, 'attempt finally', `call ${code}`, 'call finally'] : [`call ${code}`, 'call finally']);

      it(`on the deadline (${levels === 'both' ? 'call and attempt filters, failover' : 'call filters, failfast'})`, async () => {
        log.length = 0;
        const tag = `settle-deadline-${levels}`;
        await expect(clientWith(levels).invoke('Conformance', 'wait', { ms: 5_000, tag }, { timeout: 80 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
        await until(() => log.length === expected('').length && service.aborts.has(tag));
        expect(log).toEqual(expected('DEADLINE_EXCEEDED'));
        expect(['DEADLINE_EXCEEDED', 'CANCELLED']).toContain(service.aborts.get(tag));
      });

      it(`on the caller's cancel (${levels === 'both' ? 'call and attempt filters, failover' : 'call filters, failfast'})`, async () => {
        log.length = 0;
        const tag = `settle-cancel-${levels}`;
        const controller = new AbortController();
        const pending = clientWith(levels).invoke('Conformance', 'wait', { ms: 5_000, tag }, { signal: controller.signal });
        await new Promise((r) => setTimeout(r, 50));
        controller.abort();
        await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
        await until(() => log.length === expected('').length && service.aborts.has(tag));
        expect(log).toEqual(expected('CANCELLED'));
        expect(service.aborts.get(tag)).toBe('CANCELLED');
      });
    }
  });
}
