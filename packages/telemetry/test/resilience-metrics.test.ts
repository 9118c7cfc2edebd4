import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, staticRegistry } from '@svc/core';
import { circuitBreakers, loadShedder } from '@svc/resilience';
import { tcp } from '@svc/transport-tcp';
import { observeResilience } from '../src/index.js';
import { pointWith, points, startTestTelemetry, type TestTelemetry } from './helpers/test-telemetry.js';

@Service('Flaky')
class Flaky {
  failing = false;
  @Method()
  async work(): Promise<string> {
    if (this.failing) throw new RpcError('UNAVAILABLE', 'down for the test');
    return 'ok';
  }
}

// Real breakers and a real shedder on real calls, read through the SDK's metrics.
describe('resilience metrics', () => {
  let t: TestTelemetry;
  const service = new Flaky();
  // A target no busy CI machine reaches: the test counts 7 accepted and 0 refused calls, and a
  // 12.8 ms event-loop delay on a loaded machine once shed one of them at the default 10 ms.
  const shedder = loadShedder({ targetDelayMs: 10_000 });
  const breakers = circuitBreakers({ failures: 2, windowMs: 10_000, resetTimeout: 60_000 });
  let server: Server;
  let client: Client;
  let stop: () => void;

  beforeAll(async () => {
    t = await startTestTelemetry({ tracing: false });
    stop = observeResilience({ breakers, shedder });
    server = new Server({ transport: tcp(), filters: [shedder.filter] }).register(service);
    const address = await server.listen('tcp://127.0.0.1:0');
    client = new Client({ transport: tcp(), registry: staticRegistry({ Flaky: [address] }), attemptFilters: [breakers.filter], selector: breakers.selector() });
    for (let i = 0; i < 5; i++) await client.invoke('Flaky', 'work', {});
    service.failing = true;
    for (let i = 0; i < 3; i++) await client.invoke('Flaky', 'work', {}).catch(() => undefined);
  });

  afterAll(async () => {
    stop?.();
    await client?.close();
    await server?.close();
    breakers.close();
    shedder.close();
    await t?.telemetry.shutdown();
  });

  it('counts breakers by state, and the transition to open by method and node', async () => {
    const states = await points(t.reader, 'svc.resilience.breakers');
    expect(pointWith(states, { 'svc.breaker.state': 'open' })?.value).toBe(1);
    expect(pointWith(states, { 'svc.breaker.state': 'closed' })?.value).toBe(0);
    const transitions = await points(t.reader, 'svc.resilience.breaker.transitions');
    const opened = pointWith(transitions, { 'rpc.method': 'Flaky/work', 'svc.breaker.state': 'open', 'server.address': '127.0.0.1' });
    expect(opened?.value).toBe(1);
  });

  it('reports what the shedder let through: the calls that reached the server', async () => {
    const calls = await points(t.reader, 'svc.resilience.shedder.calls');
    // Five that succeeded and two that failed reached it; the third failing one the open breaker kept at home.
    expect(pointWith(calls, { 'svc.shedder.outcome': 'accepted' })?.value).toBe(7);
    expect(pointWith(calls, { 'svc.shedder.outcome': 'refused' })?.value).toBe(0);
    const delay = await points(t.reader, 'svc.resilience.shedder.event_loop_delay');
    expect(delay[0]?.value as number).toBeGreaterThanOrEqual(0);
    expect(delay[0]?.value as number).toBeLessThan(1);
  });
});
