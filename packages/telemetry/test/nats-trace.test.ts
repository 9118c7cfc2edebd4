import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { Client, staticRegistry } from '@svc/core';
import { nats } from '@svc/transport-nats';
import { eventually, NatsServerProcess } from '@svc/transport-nats/testing';
import { finished, pointWith, points, startTestTelemetry, type TestTelemetry } from './helpers/test-telemetry.js';
import { TracedService, type ChildSpan } from './helpers/traced-service.js';

// The Shop server in a child process over our own nats-server: calls and events keep the trace.
describe('tracing over NATS, across processes', () => {
  let natsd: NatsServerProcess;
  let t: TestTelemetry;
  let shop: TracedService;
  let client: Client;

  beforeAll(async () => {
    natsd = await NatsServerProcess.start();
    t = await startTestTelemetry({ messagingSystem: 'nats' });
    shop = new TracedService({ transport: 'nats', natsUrl: natsd.url });
    await shop.address;
    client = new Client({ transport: nats(), registry: staticRegistry({ Shop: [natsd.url] }), eventAddress: natsd.url, ...t.telemetry.clientFilters() });
  });

  afterAll(async () => {
    await client?.close();
    await shop?.stop();
    await t?.telemetry.shutdown();
    await natsd?.dispose();
  });

  async function childSpans(traceId: string, count: number): Promise<ChildSpan[]> {
    let found: ChildSpan[] = [];
    await eventually(async () => (found = (await shop.spans()).filter((s) => s.traceId === traceId)).length >= count, 5000, `${count} child spans`);
    return found;
  }

  it('makes the server span the child of the attempt span through NATS', async () => {
    t.spans.reset();
    const reply = await client.invoke<{ spanId: string }>('Shop', 'hello', { name: 'nat' });
    const [attempt] = await finished(t, 'attempt Shop/hello');
    const [server] = await childSpans(attempt!.spanContext().traceId, 1);
    expect(server!.name).toBe('Shop/hello');
    expect(server!.kind).toBe(SpanKind.SERVER);
    expect(server!.parentSpanId).toBe(attempt!.spanContext().spanId);
    expect(reply.spanId).toBe(server!.spanId);
    expect(attempt!.attributes['server.port']).toBe(natsd.port);
  });

  it('makes the consumer span of an event the child of its producer span', async () => {
    t.spans.reset();
    await client.publish('orders.created', { id: 7 }, { metadata: { tenant: 'acme' } });
    const [producer] = await finished(t, 'publish orders.created');
    expect(producer!.kind).toBe(SpanKind.PRODUCER);
    expect(producer!.attributes).toMatchObject({ 'messaging.system': 'nats', 'messaging.destination.name': 'orders.created', 'messaging.operation.type': 'send', 'messaging.operation.name': 'publish' });
    const [consumer] = await childSpans(producer!.spanContext().traceId, 1);
    expect(consumer!.name).toBe('process orders.created');
    expect(consumer!.kind).toBe(SpanKind.CONSUMER);
    expect(consumer!.parentSpanId).toBe(producer!.spanContext().spanId);
    expect(consumer!.attributes).toMatchObject({ 'messaging.destination.name': 'orders.created', 'messaging.operation.type': 'process', 'code.function.name': 'Shop.onOrder' });

    const sent = await points(t.reader, 'messaging.client.sent.messages');
    expect(pointWith(sent, { 'messaging.destination.name': 'orders.created' })?.value).toBe(1);
  });
});
