import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Client, inproc, Server, Service, silentLogger, staticRegistry, Subscribe } from '@svc/core';
import { finished, pointWith, points, startTestTelemetry, type HistogramPoint, type TestTelemetry } from './helpers/test-telemetry.js';

@Service('Audit')
class Audit {
  handled = 0;
  @Subscribe('audit.*')
  async record(entry: { fail?: boolean }): Promise<void> {
    this.handled++;
    if (entry.fail) throw new TypeError('cannot record');
  }
}

describe('events in one process', () => {
  let t: TestTelemetry;
  let server: Server;
  let client: Client;
  const audit = new Audit();

  beforeAll(async () => {
    t = await startTestTelemetry();
    const transport = inproc();
    server = new Server({ transport, filters: t.telemetry.serverFilters(), logger: silentLogger }).register(audit);
    const address = await server.listen('inproc://audit');
    client = new Client({ transport, registry: staticRegistry({}), eventAddress: address, ...t.telemetry.clientFilters() });
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
    await t?.telemetry.shutdown();
  });

  async function handled(n: number): Promise<void> {
    for (let i = 0; i < 100 && audit.handled < n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(audit.handled).toBe(n);
  }

  it('names spans by the published topic, also under a pattern subscription, and marks a failed handler', async () => {
    await client.publish('audit.login', {});
    await client.publish('audit.logout', { fail: true });
    await handled(2);
    const consumers = (await finished(t)).filter((s) => s.kind === SpanKind.CONSUMER);
    expect(consumers.map((s) => s.name).sort()).toEqual(['process audit.login', 'process audit.logout']);
    const failed = consumers.find((s) => s.name === 'process audit.logout')!;
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'cannot record' });
    expect(failed.attributes['error.type']).toBe('UNKNOWN');
    const [producer] = await finished(t, 'publish audit.logout');
    expect(failed.parentSpanContext?.spanId).toBe(producer!.spanContext().spanId);

    const durations = (await points(t.reader, 'messaging.process.duration')) as HistogramPoint[];
    expect(pointWith(durations, { 'messaging.destination.name': 'audit.login' })?.attributes['error.type']).toBeUndefined();
    expect(pointWith(durations, { 'messaging.destination.name': 'audit.logout', 'error.type': 'UNKNOWN' })?.value.count).toBe(1);
  });
});
