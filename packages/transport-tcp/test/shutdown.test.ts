import { describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry, type RpcError } from '@svc/core';
import { tcp } from '../src/index.js';
import { Echo, sleep } from './helpers.js';

describe('graceful shutdown under load', () => {
  it('loses no call: each one started before close() succeeds, later ones get a clean UNAVAILABLE', async () => {
    const server = new Server({ transport: tcp(), logger: silentLogger, drainTimeout: 5_000 }).register(new Echo());
    const address = await server.listen('tcp://127.0.0.1:0');
    const clients = Array.from({ length: 4 }, () => new Client({ transport: tcp(), registry: staticRegistry({ Echo: [address] }), timeout: 5_000 }));

    let closeStarted = Infinity;
    const outcomes: { started: number; result: 'ok' | string; message?: string }[] = [];
    // Four closed loops, 50 callers each, calls of 0-40 ms, for 1.5 s; close() comes in the middle.
    const loops = clients.flatMap((client) =>
      Array.from({ length: 50 }, async (_, worker) => {
        const end = Date.now() + 1_500;
        for (let i = 0; Date.now() < end && i < 1_000; i++) {
          const started = Date.now();
          try {
            const r = await client.invoke<{ ms: number }>('Echo', 'slow', { ms: (worker + i) % 40 });
            expect(r.ms).toBe((worker + i) % 40);
            outcomes.push({ started, result: 'ok' });
          } catch (error) {
            const e = error as RpcError;
            outcomes.push({ started, result: e.code, message: e.message });
            await sleep(5);
          }
        }
      }),
    );
    await sleep(500);
    closeStarted = Date.now();
    const closing = server.close();
    await Promise.all(loops);
    await closing;

    const before = outcomes.filter((o) => o.started < closeStarted);
    expect(before.length).toBeGreaterThan(500);
    expect(before.filter((o) => o.result !== 'ok')).toEqual([]);
    const failures = outcomes.filter((o) => o.result !== 'ok');
    expect(failures.length).toBeGreaterThan(0); // the server did go away mid-run
    for (const failure of failures) {
      expect(failure.result).toBe('UNAVAILABLE');
      expect(failure.message).not.toMatch(/connection .* lost/);
    }
    await Promise.all(clients.map((c) => c.close()));
  });
});
