import { afterEach, describe, expect, it } from 'vitest';
import { recordingFilter, until } from '../src/testing/index.js';
import { CallContext, Client, Method, RpcError, Server, Service, inproc, silentLogger, staticRegistry, type AttemptCall, type ClientOptions, type Filter } from '../src/index.js';

@Service('Slow')
class Slow {
  started = 0;
  aborted = 0;
  @Method({ idempotent: true })
  async hang(_: unknown, ctx: CallContext): Promise<string> {
    this.started++;
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    this.aborted++;
    return 'never seen';
  }
}

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

async function rig(options: Partial<ClientOptions>, nodes = 1) {
  const transport = inproc();
  const services: Slow[] = [];
  const addresses: string[] = [];
  for (let i = 0; i < nodes; i++) {
    const slow = new Slow();
    const server = new Server({ transport, logger: silentLogger }).register(slow);
    addresses.push(await server.listen(`inproc://abort-${i}-${Math.random()}`));
    services.push(slow);
    stops.push(() => server.close({ drainTimeout: 100 }));
  }
  const client = new Client({ transport, registry: staticRegistry({ Slow: addresses }), services: { Slow: { methods: { hang: { idempotent: true } } } }, ...options });
  stops.push(() => client.close());
  return { client, services };
}


describe('every pending next() settles when the call ends early', () => {
  it('on the deadline, at both filter levels, and the handler is told', async () => {
    const log: string[] = [];
    const { client, services } = await rig({ filters: [recordingFilter(log, 'call')], attemptFilters: [recordingFilter<AttemptCall>(log, 'attempt')] });
    await expect(client.invoke('Slow', 'hang', {}, { timeout: 50 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    await until(() => log.length === 4 && services[0]!.aborted === 1);
    expect(log).toEqual(['attempt DEADLINE_EXCEEDED', 'attempt finally', 'call DEADLINE_EXCEEDED', 'call finally']);
    expect(services[0]!.aborted).toBe(1);
  });

  it('on the caller cancelling, with call filters only (the plain path)', async () => {
    const log: string[] = [];
    const { client, services } = await rig({ filters: [recordingFilter(log, 'outer'), recordingFilter(log, 'inner')] });
    const controller = new AbortController();
    const pending = client.invoke('Slow', 'hang', {}, { signal: controller.signal });
    await until(() => services[0]!.started === 1);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    await until(() => log.length === 4 && services[0]!.aborted === 1);
    expect(log).toEqual(['inner CANCELLED', 'inner finally', 'outer CANCELLED', 'outer finally']);
    expect(services[0]!.aborted).toBe(1);
  });

  it('on a parent call ending, with a fail mode that retries', async () => {
    const log: string[] = [];
    const { client, services } = await rig({ failMode: 'failover', filters: [recordingFilter(log, 'call')], attemptFilters: [recordingFilter<AttemptCall>(log, 'attempt')] }, 2);
    const parent = new AbortController();
    const pending = client.invoke('Slow', 'hang', {}, { parent: { deadline: 0, signal: parent.signal } });
    await until(() => services.some((s) => s.started === 1));
    parent.abort(new RpcError('CANCELLED', 'the parent call was cancelled'));
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED', message: 'the parent call was cancelled' });
    await until(() => log.length === 4);
    expect(log).toEqual(['attempt CANCELLED', 'attempt finally', 'call CANCELLED', 'call finally']);
  });

  it('a hedge that lost is cancelled on the wire and its attempt filter settles', async () => {
    const log: string[] = [];
    const transport = inproc();
    @Service('Race')
    class Race {
      calls = 0;
      aborted = 0;
      @Method({ idempotent: true })
      async go(_: unknown, ctx: CallContext): Promise<number> {
        const n = ++this.calls;
        if (n === 2) return n;
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        this.aborted++;
        return n;
      }
    }
    const race = new Race();
    const server = new Server({ transport, logger: silentLogger }).register(race);
    const address = await server.listen('inproc://race');
    stops.push(() => server.close({ drainTimeout: 100 }));
    const client = new Client({
      transport,
      registry: staticRegistry({ Race: [address] }),
      failMode: { mode: 'failbackup', hedgeDelay: 10 },
      services: { Race: { methods: { go: { idempotent: true } } } },
      attemptFilters: [async (attempt, next) => {
        try {
          return await next();
        } catch (error) {
          log.push(`attempt ${attempt.attempt} ${(error as RpcError).code} signal=${attempt.signal.aborted}`);
          throw error;
        }
      }],
    });
    stops.push(() => client.close());
    expect(await client.invoke('Race', 'go', {})).toBe(2);
    await until(() => race.aborted === 1);
    expect(log).toEqual(['attempt 1 CANCELLED signal=true']);
    expect(race.aborted).toBe(1);
  });

  it('a backoff in progress ends with the call: no timer outlives it', async () => {
    const transport = inproc();
    @Service('Down')
    class Down {
      runs = 0;
      @Method({ idempotent: true })
      async x(_: unknown, ctx: CallContext): Promise<void> {
        this.runs++;
        // A fixed wait (the backoff alone is jittered from 0, and could retry before the abort).
        ctx.sendMetadata({ 'svc-retry-pushback-ms': '200' });
        throw new RpcError('UNAVAILABLE', 'down');
      }
    }
    const down = new Down();
    const server = new Server({ transport, logger: silentLogger }).register(down);
    const address = await server.listen('inproc://down');
    stops.push(() => server.close());
    const client = new Client({ transport, registry: staticRegistry({ Down: [address] }), failMode: 'failretry', services: { Down: { methods: { x: { idempotent: true } } } } });
    stops.push(() => client.close());
    const controller = new AbortController();
    const pending = client.invoke('Down', 'x', {}, { signal: controller.signal });
    await until(() => down.runs === 1);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    // Past the 200 ms pushback: a retry timer left behind would have run by now.
    await new Promise((r) => setTimeout(r, 300));
    expect(down.runs).toBe(1);
  });
});
