import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonRequest } from '../channel-call.js';
import type { RpcError } from '../../errors/rpc-error.js';
import type { Channel, RequestMessage, ResponseMessage } from '../../transport/transport.js';
import type { ConformanceService } from '../conformance-service.js';
import type { ConformanceTarget } from '../conformance.js';
import { startConformanceServer, type ConformanceServer } from '../conformance-server.js';

interface Outcome {
  error: RpcError | undefined;
  response: ResponseMessage | undefined;
  /** How many times onResponse was called. */
  calls: number;
  /** True if onResponse ran before call() returned. */
  synchronous: boolean;
}

function request(method: string, body: unknown): RequestMessage {
  return jsonRequest('Conformance', method, body);
}

/** Sends one request on `channel` and records every callback. */
function send(channel: Channel, message: RequestMessage): { id: number; outcome: Outcome; settled: Promise<void> } {
  const outcome: Outcome = { error: undefined, response: undefined, calls: 0, synchronous: false };
  let returned = false;
  let resolve!: () => void;
  const settled = new Promise<void>((r) => (resolve = r));
  const id = channel.call(message, (error, response) => {
    outcome.calls++;
    outcome.error = error;
    outcome.response = response;
    outcome.synchronous = !returned;
    resolve();
  });
  returned = true;
  return { id, outcome, settled };
}

const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

/**
 * What every transport's Channel must do, as vitest tests, below the Client: ids unique among
 * calls in flight, `onResponse` exactly once and never before `call()` returns, server errors as
 * responses (with their progress), `cancel` that silences the call and tells the server, and
 * `close` that fails what is in flight with UNAVAILABLE and refuses what comes after.
 */
export function describeChannelContract(name: string, setup: () => Promise<ConformanceTarget>): void {
  describe(`channel contract: ${name}`, () => {
    let rig: ConformanceServer;
    let service: ConformanceService;
    const connect = (): Channel => (rig.target.clientTransport ?? rig.target.transport).connect(rig.address);

    beforeAll(async () => {
      rig = await startConformanceServer(setup);
      service = rig.service;
    });
    afterAll(async () => {
      await rig?.stop();
    });

    it('answers each call once, asynchronously, with ids unique among the calls in flight', async () => {
      const channel = connect();
      try {
        const sent = Array.from({ length: 200 }, (_, i) => send(channel, request('echo', { i })));
        expect(new Set(sent.map((s) => s.id)).size).toBe(200);
        await Promise.all(sent.map((s) => s.settled));
        await tick();
        sent.forEach((s, i) => {
          expect(s.outcome).toMatchObject({ calls: 1, synchronous: false, error: undefined });
          expect(s.outcome.response!.status).toBe(0);
          expect(JSON.parse(Buffer.from(s.outcome.response!.body).toString())).toEqual({ i });
        });
      } finally {
        await channel.close();
      }
    });

    it('hands a server error back as a response with its status and progress', async () => {
      const channel = connect();
      try {
        const s = send(channel, request('no-such-method', {}));
        await s.settled;
        expect(s.outcome.error).toBeUndefined();
        expect(s.outcome.response!.status).toBe(12); // UNIMPLEMENTED
        expect(s.outcome.response!.progress).toBe(1); // refused: no handler ran
      } finally {
        await channel.close();
      }
    });

    it('cancel: the callback is never called and the handler is told', async () => {
      const channel = connect();
      try {
        const s = send(channel, request('wait', { ms: 5_000, tag: `channel-cancel-${name}` }));
        await tick(50);
        channel.cancel(s.id);
        const end = Date.now() + 2_000;
        while (!service.aborts.has(`channel-cancel-${name}`) && Date.now() < end) await tick(10);
        expect(service.aborts.get(`channel-cancel-${name}`)).toBe('CANCELLED');
        await tick(50);
        expect(s.outcome.calls).toBe(0);
        channel.cancel(s.id); // twice, and for an id that is done: harmless
        channel.cancel(123_456);
      } finally {
        await channel.close();
      }
    });

    it('close fails the calls in flight with UNAVAILABLE once, and later calls too', async () => {
      const channel = connect();
      const inflight = send(channel, request('wait', { ms: 5_000, tag: `channel-close-${name}` }));
      await tick(50);
      await channel.close();
      await inflight.settled;
      await tick();
      expect(inflight.outcome.calls).toBe(1);
      expect(inflight.outcome.error?.code).toBe('UNAVAILABLE');
      const after = send(channel, request('echo', {}));
      await after.settled;
      expect(after.outcome).toMatchObject({ calls: 1, synchronous: false });
      expect(after.outcome.error?.code).toBe('UNAVAILABLE');
      await channel.close(); // twice: harmless
    });
  });
}
