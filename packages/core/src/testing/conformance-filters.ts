import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../client/client.js';
import { staticRegistry } from '../client/registry.js';
import type { AttemptCall } from '../client/attempt.js';
import type { RpcError } from '../errors/rpc-error.js';
import type { Call, Filter } from '../filter/filter.js';
import type { ConformanceService } from './conformance-service.js';
import type { ConformanceTarget } from './conformance.js';
import { startConformanceServer, type ConformanceServer } from './conformance-server.js';
import { until } from './until.js';

/**
 * A filter written the usual way (`try { await next() } finally { … }`), logging to `log` how its
 * next() settled (`<label> ok` or `<label> <code>`) and then `<label> finally`.
 */
export function recordingFilter<C extends Call>(log: string[], label: string): Filter<C> {
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


/**
 * Every pending next() settles with the call's error when a call ends early (deadline, the
 * caller's cancel), at both filter levels, whatever the transport: a filter's `finally` always
 * runs, and the handler is told. Part of describeTransportConformance.
 */
export function describeFilterSettling(name: string, setup: () => Promise<ConformanceTarget>): void {
  describe(`filters settle when a call ends early: ${name}`, () => {
    let rig: ConformanceServer;
    let service: ConformanceService;
    const clients: Client[] = [];
    const log: string[] = [];
    const clientWith = (levels: 'call' | 'both'): Client => {
      const client = new Client({
        transport: rig.target.clientTransport ?? rig.target.transport,
        registry: staticRegistry({ Conformance: [rig.address] }),
        filters: [recordingFilter(log, 'call')],
        attemptFilters: levels === 'both' ? [recordingFilter<AttemptCall>(log, 'attempt')] : [],
        failMode: levels === 'both' ? 'failover' : 'failfast',
        services: { Conformance: { methods: { wait: { idempotent: true } } } },
      });
      clients.push(client);
      return client;
    };

    beforeAll(async () => {
      rig = await startConformanceServer(setup);
      service = rig.service;
    });
    afterAll(async () => {
      for (const client of clients) await client.close();
      await rig?.stop();
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
