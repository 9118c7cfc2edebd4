import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../client/client.js';
import { staticRegistry } from '../client/registry.js';
import { ALL_CODES } from '../errors/codes.js';
import { RpcError } from '../errors/rpc-error.js';
import { Server } from '../server/server.js';
import { silentLogger } from '../logger.js';
import type { Transport } from '../transport/transport.js';
import { ConformanceService } from './conformance-service.js';

export interface ConformanceTarget {
  /** The transport the server listens with. */
  transport: Transport;
  /** The transport the client dials with; default the same instance. */
  clientTransport?: Transport;
  /** What to pass to server.listen(); the client calls the address listen() returns. */
  listenAddress: string;
  teardown?(): Promise<void>;
}

interface Rig {
  server: Server;
  client: Client;
  service: ConformanceService;
  target: ConformanceTarget;
  stop(): Promise<void>;
}

async function startRig(setup: () => Promise<ConformanceTarget>, serverCompression = false): Promise<Rig> {
  const target = await setup();
  const service = new ConformanceService();
  const compression = serverCompression ? { algorithm: 'gzip' as const, threshold: 256 } : undefined;
  const server = new Server({ transport: target.transport, logger: silentLogger, drainTimeout: 5_000, compression }).register(service);
  const address = await server.listen(target.listenAddress);
  const client = new Client({
    transport: target.clientTransport ?? target.transport,
    registry: staticRegistry({ Conformance: [address] }),
    timeout: 10_000,
    compression,
  });
  service.client = client;
  return {
    server,
    client,
    service,
    target,
    async stop() {
      await client.close();
      await server.close({ drainTimeout: 1_000 });
      await target.teardown?.();
    },
  };
}

/**
 * The semantics every transport must keep, as vitest tests. A transport package calls this from
 * one of its test files with a factory for a fresh target.
 */
export function describeTransportConformance(name: string, setup: () => Promise<ConformanceTarget>): void {
  describe(`transport conformance: ${name}`, () => {
    let rig: Rig;
    beforeAll(async () => {
      rig = await startRig(setup);
    });
    afterAll(async () => {
      await rig?.stop();
    });

    it('answers a call with the handler result', async () => {
      const value = { text: 'héllo', n: 42, list: [1, 2, 3], nested: { ok: true } };
      expect(await rig.client.invoke('Conformance', 'echo', value)).toEqual(value);
    });

    it('carries a void result', async () => {
      expect(await rig.client.invoke('Conformance', 'nothing', {})).toBeUndefined();
    });

    it('carries metadata both ways', async () => {
      let back: Record<string, string> | undefined;
      const result = await rig.client.invoke<{ seen: Record<string, string> }>('Conformance', 'metadata', {}, {
        metadata: { 'x-in': 'ping', tenant: 'acme' },
        onMetadata: (m) => (back = m),
      });
      expect(result.seen).toMatchObject({ 'x-in': 'ping', tenant: 'acme' });
      expect(back).toEqual({ 'x-out': 're:ping' });
    });

    it('carries every error code with message, details and metadata', async () => {
      for (const code of ALL_CODES) {
        let back: Record<string, string> | undefined;
        const error = await rig.client
          .invoke('Conformance', 'fail', { code, message: `failed with ${code}`, details: { field: 'a.b', n: 1 } }, { onMetadata: (m) => (back = m) })
          .then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(RpcError);
        expect(error).toMatchObject({ code, message: `failed with ${code}`, details: { field: 'a.b', n: 1 } });
        expect(back).toEqual({ 'x-before-error': 'yes', 'x-error': code });
      }
    });

    it('turns a thrown Error into UNKNOWN with its message and no stack', async () => {
      const error = (await rig.client.invoke('Conformance', 'crash', { why: 'disk full' }).catch((e: unknown) => e)) as RpcError;
      expect(error).toMatchObject({ code: 'UNKNOWN', message: 'boom: disk full' });
      expect(error.remoteStack).toBeUndefined();
    });

    it('answers an unknown method or service with UNIMPLEMENTED', async () => {
      await expect(rig.client.invoke('Conformance', 'nope', {})).rejects.toMatchObject({ code: 'UNIMPLEMENTED' });
      const client = new Client({ transport: rig.target.clientTransport ?? rig.target.transport, registry: staticRegistry({ Ghost: [rig.server.addresses[0]!] }) });
      await expect(client.invoke('Ghost', 'x', {})).rejects.toMatchObject({ code: 'UNIMPLEMENTED', message: expect.stringContaining('Conformance') });
      await client.close();
    });

    it('fails with DEADLINE_EXCEEDED on time and aborts the handler', async () => {
      const started = Date.now();
      await expect(rig.client.invoke('Conformance', 'wait', { ms: 5_000, tag: 'deadline' }, { timeout: 100 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(90);
      expect(took).toBeLessThan(2_000);
      await until(() => rig.service.aborts.has('deadline'));
      expect(['DEADLINE_EXCEEDED', 'CANCELLED']).toContain(rig.service.aborts.get('deadline'));
    });

    it('enforces the method timeout on the server', async () => {
      await expect(rig.client.invoke('Conformance', 'limited', { ms: 5_000, tag: 'limited' }, { timeout: 5_000 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      await until(() => rig.service.aborts.has('limited'));
      expect(rig.service.aborts.get('limited')).toBe('DEADLINE_EXCEEDED');
    });

    it('cancels: the caller gets CANCELLED and the handler its signal', async () => {
      const controller = new AbortController();
      const pending = rig.client.invoke('Conformance', 'wait', { ms: 5_000, tag: 'cancel' }, { signal: controller.signal });
      await new Promise((r) => setTimeout(r, 50));
      controller.abort();
      await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
      await until(() => rig.service.aborts.has('cancel'));
      expect(rig.service.aborts.get('cancel')).toBe('CANCELLED');
    });

    it('passes the deadline downstream: the child gets the smaller one', async () => {
      const result = await rig.client.invoke<{ own: number; downstream: number | null }>('Conformance', 'relay', {}, { timeout: 2_000 });
      expect(result.downstream).not.toBeNull();
      expect(result.downstream!).toBeLessThanOrEqual(2_000);
      expect(result.downstream!).toBeGreaterThan(1_000);
    });

    it('answers 2,000 concurrent calls, each with its own result', async () => {
      const calls = Array.from({ length: 2_000 }, (_, i) => rig.client.invoke<{ i: number }>('Conformance', 'echo', { i }));
      const results = await Promise.all(calls);
      results.forEach((r, i) => expect(r.i).toBe(i));
    });

    it('compresses large bodies both ways and keeps them intact', async () => {
      const compressed = await startRig(setup, true);
      try {
        const text = 'abcdefghij'.repeat(5_000);
        expect(await compressed.client.invoke('Conformance', 'echo', { text })).toEqual({ text });
      } finally {
        await compressed.stop();
      }
    });

    it('drains on close: calls in flight finish, later calls get UNAVAILABLE', async () => {
      const draining = await startRig(setup);
      try {
        const inflight = Array.from({ length: 20 }, (_, i) => draining.client.invoke<{ waited: number }>('Conformance', 'wait', { ms: 300, tag: `drain-${i}` }));
        await new Promise((r) => setTimeout(r, 50));
        const closed = draining.server.close({ drainTimeout: 5_000 });
        const results = await Promise.all(inflight);
        for (const r of results) expect(r.waited).toBeGreaterThanOrEqual(250);
        await closed;
        await expect(draining.client.invoke('Conformance', 'echo', { late: true }, { timeout: 2_000 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      } finally {
        await draining.stop();
      }
    });
  });
}

async function until(condition: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
