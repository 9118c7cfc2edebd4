import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, silentLogger, staticRegistry } from '@svc/core';
import { nats } from '../src/index.js';
import { NatsServerProcess, eventually, sleep } from '../src/testing/index.js';

@Service('Clock')
class Clock {
  @Method()
  async now(args: { n: number }): Promise<{ n: number; at: number }> {
    return { n: args.n, at: Date.now() };
  }
  @Method()
  async sleep(args: { ms: number }): Promise<{ slept: number }> {
    await sleep(args.ms);
    return { slept: args.ms };
  }
}

interface Outcome {
  ok: boolean;
  code?: string;
  took: number;
  at: number;
}

describe('NATS server killed and restarted mid-traffic', () => {
  let natsd: NatsServerProcess;
  let server: Server;
  let client: Client;

  beforeAll(async () => {
    natsd = await NatsServerProcess.start();
    server = new Server({ transport: nats({ reconnectTimeWait: 100 }), logger: silentLogger }).register(new Clock());
    await server.listen(natsd.url);
    client = new Client({ transport: nats({ reconnectTimeWait: 100 }), registry: staticRegistry({ Clock: [natsd.url] }) });
  });

  afterAll(async () => {
    await client?.close();
    await server?.close({ drainTimeout: 500 });
    await natsd?.dispose();
  });

  it('fails calls during the outage with UNAVAILABLE or DEADLINE_EXCEEDED, never hangs, and resumes by itself', async () => {
    const outcomes: Outcome[] = [];
    let running = true;
    const worker = async (w: number): Promise<void> => {
      for (let n = 0; running && n < 10_000; n++) {
        const started = Date.now();
        try {
          await client.invoke('Clock', 'now', { n: w * 100_000 + n }, { timeout: 1_000 });
          outcomes.push({ ok: true, took: Date.now() - started, at: started });
        } catch (error) {
          outcomes.push({ ok: false, code: (error as RpcError).code, took: Date.now() - started, at: started });
          await sleep(20);
        }
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    // A call with no deadline at all, in flight when the server dies: it must not hang.
    const noDeadline = client.invoke('Clock', 'sleep', { ms: 1_500 }, { timeout: 0 }).then(
      () => 'ok',
      (e: RpcError) => e.code,
    );
    await sleep(400);
    const killedAt = Date.now();
    await natsd.kill();
    await sleep(700);
    await natsd.start();
    const restartedAt = Date.now();
    await eventually(() => outcomes.some((o) => o.ok && o.at > restartedAt), 10_000, 'calls to succeed again after the restart');
    await sleep(300);
    running = false;
    await Promise.all(workers);

    expect(await noDeadline).toBe('UNAVAILABLE');
    const failures = outcomes.filter((o) => !o.ok);
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain(f.code);
    // Never hangs: nothing took much longer than its 1 s deadline.
    expect(Math.max(...outcomes.map((o) => o.took))).toBeLessThan(1_500);
    expect(outcomes.filter((o) => o.ok && o.at < killedAt).length).toBeGreaterThan(10);
    expect(outcomes.filter((o) => o.ok && o.at > restartedAt).length).toBeGreaterThan(0);
    // And afterwards everything works as before.
    const after = await Promise.all(Array.from({ length: 50 }, (_, n) => client.invoke<{ n: number }>('Clock', 'now', { n }, { timeout: 2_000 })));
    after.forEach((r, n) => expect(r.n).toBe(n));
  });
});
