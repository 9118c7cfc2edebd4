import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../client/client.js';
import { staticRegistry } from '../client/registry.js';
import { ALL_CODES, type Code } from '../errors/codes.js';
import { RpcError, type Progress } from '../errors/rpc-error.js';
import { Server } from '../server/server.js';
import { silentLogger } from '../logger.js';
import type { Channel, Dispatcher, Peer, Transport } from '../transport/transport.js';
import { Compression } from '../wire/header.js';
import { Method } from '../decorators/method.js';
import { Service } from '../decorators/service.js';
import { getServiceDefinition } from '../decorators/service-definition.js';
import type { CallContext } from '../server/call-context.js';
import { ConformanceService } from './conformance-service.js';
import { callChannel, type ChannelOutcome } from './channel-call.js';
import { until } from './until.js';
import { describeFilterSettling } from './conformance-filters.js';
import { describeChannelContract } from './contracts/channel-contract.js';
import { describeStreamConformance } from './conformance-streams.js';

export interface ConformanceTarget {
  /** The transport the server listens with. */
  transport: Transport;
  /** The transport the client dials with; default the same instance. */
  clientTransport?: Transport;
  /** What to pass to server.listen(); the client calls the address listen() returns. */
  listenAddress: string;
  teardown?(): Promise<void>;
  /**
   * What a call that crosses the server's close (sent just as `server.close()` begins, before its
   * handler started) gets. 'refused' (the default): it is not run and fails refused, as over TCP
   * (GOAWAY) and in-process. 'served': the transport may still serve it (NATS runs what it
   * delivered before the unsubscribe took effect); if it is not served, it must fail without
   * having run, refused or not_sent.
   */
  crossingClose?: 'refused' | 'served';
  /**
   * Cuts the connections between client and server at once, as a crash would, while calls run
   * (NATS: the NATS server is killed and started again). Default: the listener is closed without
   * draining.
   */
  breakConnections?(): Promise<void>;
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

  describeProgressConformance(name, setup);
  describeFilterSettling(name, setup);
  describeChannelContract(name, setup);
  describeStreamConformance(name, setup);
}

/** Counts what reaches its handlers, so that a test can tell what did not run. */
@Service('Progress')
class ProgressService {
  runs = 0;

  @Method()
  async run(request: unknown): Promise<unknown> {
    this.runs++;
    return request;
  }

  @Method()
  async fail(request: { code: Code; retryable?: boolean; progress?: Progress }): Promise<never> {
    this.runs++;
    throw new RpcError(request.code, `failed with ${request.code}`, { retryable: request.retryable, progress: request.progress });
  }

  /** Runs until `ms` passed or the call is cancelled. */
  @Method()
  async hold(request: { ms: number }, ctx: CallContext): Promise<{ ms: number }> {
    this.runs++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, request.ms);
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    return request;
  }
}

/** A JSON call to the Progress service on a raw channel: what the transport itself hands back. */
function rawCall(channel: Channel, method: string, args: unknown, timeoutMs = 5_000, afterSend?: () => void): Promise<ChannelOutcome> {
  return callChannel(channel, 'Progress', method, args, { timeoutMs, afterSend });
}

/**
 * How far a failed call got (RpcError.progress), as each transport must report it: a fail mode
 * retries `not_sent` and `refused` calls of any method, so saying either of a call that may have
 * run could run a handler twice. Calls go on raw channels where the outcome is the transport's
 * own, so that no client-side retry hides it.
 */
function describeProgressConformance(name: string, setup: () => Promise<ConformanceTarget>): void {
  describe(`transport conformance: ${name}: how far a failed call got`, () => {
    interface ProgressRig {
      target: ConformanceTarget;
      server: Server;
      service: ProgressService;
      address: string;
      client: Client;
      channel: Channel;
      stop(): Promise<void>;
    }

    async function progressRig(listen = true): Promise<ProgressRig & { listener?: Awaited<ReturnType<Transport['listen']>> }> {
      const target = await setup();
      const service = new ProgressService();
      const server = new Server({ transport: target.transport, logger: silentLogger, drainTimeout: 1_000 }).register(service);
      // Without `listen`, a listener of the transport's own serves the server, so that a test can
      // close it without draining.
      const listener = listen ? undefined : await target.transport.listen(target.listenAddress, server);
      const address = listener?.address ?? (await server.listen(target.listenAddress));
      const clientTransport = target.clientTransport ?? target.transport;
      const client = new Client({ transport: clientTransport, registry: staticRegistry({ Progress: [address] }), timeout: 5_000 });
      const channel = clientTransport.connect(address);
      return {
        target, server, service, address, client, channel, listener,
        async stop() {
          await channel.close();
          await client.close();
          await listener?.close();
          await server.close({ drainTimeout: 500 });
          await target.teardown?.();
        },
      };
    }

    let rig: ProgressRig;
    beforeAll(async () => {
      rig = await progressRig();
    });
    afterAll(async () => {
      await rig?.stop();
    });

    it('a handler error arrives as processed', async () => {
      const before = rig.service.runs;
      await expect(rig.client.invoke('Progress', 'fail', { code: 'INTERNAL' })).rejects.toMatchObject({ code: 'INTERNAL', progress: 'processed' });
      // Whatever progress the handler's error claims: its handler ran.
      await expect(rig.client.invoke('Progress', 'fail', { code: 'ABORTED', progress: 'refused' })).rejects.toMatchObject({ code: 'ABORTED', progress: 'processed' });
      const raw = await rawCall(rig.channel, 'fail', { code: 'UNAVAILABLE', progress: 'not_sent' });
      expect(raw.error).toBeUndefined();
      expect(raw.response).toMatchObject({ status: 14 });
      expect(raw.response!.progress ?? 0).toBe(0); // processed: nothing on the wire
      expect(rig.service.runs - before).toBe(3);
    });

    it('an unknown method or service arrives as refused', async () => {
      await expect(rig.client.invoke('Progress', 'nope', {})).rejects.toMatchObject({ code: 'UNIMPLEMENTED', progress: 'refused' });
      const ghost = new Client({ transport: rig.target.clientTransport ?? rig.target.transport, registry: staticRegistry({ Ghost: [rig.address] }) });
      try {
        await expect(ghost.invoke('Ghost', 'x', {})).rejects.toMatchObject({ code: 'UNIMPLEMENTED', progress: 'refused' });
      } finally {
        await ghost.close();
      }
    });

    it('retryable survives the trip when it differs from the code\'s default', async () => {
      await expect(rig.client.invoke('Progress', 'fail', { code: 'UNAVAILABLE', retryable: false })).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: false, progress: 'processed' });
      await expect(rig.client.invoke('Progress', 'fail', { code: 'INTERNAL', retryable: true })).rejects.toMatchObject({ code: 'INTERNAL', retryable: true, progress: 'processed' });
      await expect(rig.client.invoke('Progress', 'fail', { code: 'UNAVAILABLE' })).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    });

    it('a call to an address where nothing listens, or on a closed channel, fails as not_sent', async () => {
      const gone = await progressRig();
      const address = gone.address;
      await gone.stop();
      const transport = gone.target.clientTransport ?? gone.target.transport;
      const channel = transport.connect(address);
      try {
        const nobody = await rawCall(channel, 'run', {}, 3_000);
        expect(nobody.error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
      } finally {
        await channel.close();
      }
      const closed = await rawCall(channel, 'run', {});
      expect(closed.error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
      expect(gone.service.runs).toBe(0);
    });

    it('a call that crosses the server\'s close before its handler started fails refused without running (or is served, where the transport serves such calls)', async () => {
      const r = await progressRig();
      try {
        expect((await rawCall(r.channel, 'run', { warm: true })).response).toMatchObject({ status: 0 }); // connected, and idle again
        const runs = r.service.runs;
        let closing: Promise<void> | undefined;
        // The request is on its way (handed to the channel) when the server begins to close.
        const crossed = await rawCall(r.channel, 'run', { crossing: true }, 3_000, () => (closing = r.server.close({ drainTimeout: 1_000 })));
        await closing;
        if (r.target.crossingClose === 'served' && crossed.error === undefined) {
          expect(crossed.response).toMatchObject({ status: 0 });
          expect(r.service.runs - runs).toBe(1);
        } else if (r.target.crossingClose === 'served') {
          expect(['refused', 'not_sent']).toContain(crossed.error!.progress);
          expect(r.service.runs - runs).toBe(0);
        } else {
          expect(crossed.error).toMatchObject({ code: 'UNAVAILABLE', progress: 'refused' });
          expect(r.service.runs - runs).toBe(0);
        }
      } finally {
        await r.stop();
      }
    });

    it('a call whose connection is lost while its handler runs is processed', async () => {
      const r = await progressRig(false);
      try {
        const runs = r.service.runs;
        const held = rawCall(r.channel, 'hold', { ms: 4_000 }, 8_000);
        await until(() => r.service.runs > runs, 5_000);
        if (r.target.breakConnections) await r.target.breakConnections();
        else await r.listener!.close();
        const outcome = await held;
        expect(outcome.error).toMatchObject({ code: 'UNAVAILABLE', progress: 'processed' });
      } finally {
        await r.stop();
      }
    });

    it('a dispatched request says who sent it (peer), the same for the calls of one channel', async () => {
      const target = await setup();
      const peers: (Peer | undefined)[] = [];
      const dispatcher: Dispatcher = {
        serviceDefinitions: [getServiceDefinition(ProgressService)!],
        dispatch(request, replyTo) {
          peers.push(request.peer);
          queueMicrotask(() => replyTo.reply(request.id, { status: 0, metadata: undefined, codec: 'json', compression: Compression.NONE, body: request.body }));
          return { cancel() {} };
        },
      };
      const listener = await target.transport.listen(target.listenAddress, dispatcher);
      const channel = (target.clientTransport ?? target.transport).connect(listener.address);
      try {
        for (let i = 0; i < 2; i++) expect((await rawCall(channel, 'run', { i })).response).toMatchObject({ status: 0 });
        expect(peers).toHaveLength(2);
        const [first, second] = peers;
        expect(target.transport.schemes).toContain(first?.transport);
        expect(typeof first?.address === 'string' && first.address.length > 0).toBe(true);
        expect(second).toEqual(first);
      } finally {
        await channel.close();
        await listener.close();
        await target.teardown?.();
      }
    });
  });
}
