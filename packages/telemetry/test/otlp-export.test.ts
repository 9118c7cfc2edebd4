import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, staticRegistry } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { eventually } from '@svc/transport-nats/testing';
import { OtlpReceiver } from './helpers/otlp-receiver.js';
import { finished, startTestTelemetry, type TestTelemetry } from './helpers/test-telemetry.js';
import { TracedService } from './helpers/traced-service.js';

// The child process exports as a deployment would, by OTEL_* variables alone (OTLP over HTTP,
// protobuf, batched, flushed at shutdown), to a receiver in this test.
describe('OTLP export', () => {
  let receiver: OtlpReceiver;
  let t: TestTelemetry;
  let shop: TracedService;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    t = await startTestTelemetry({ metrics: false });
    shop = new TracedService({ transport: 'tcp', export: 'otlp', env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'shop-from-env' } });
  });

  afterAll(async () => {
    await shop?.kill();
    await t?.telemetry.shutdown();
    await receiver?.close();
  });

  it('sends the server spans to the collector, children of this process\'s attempt spans', async () => {
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Shop: [await shop.address] }), ...t.telemetry.clientFilters() });
    await client.invoke('Shop', 'hello', { name: 'otto' });
    await client.invoke('Shop', 'crash', {}).catch(() => undefined);
    await client.close();
    await shop.stop(); // shutdown flushes the batch

    await eventually(() => receiver.spans.length >= 2, 5000, 'two spans at the receiver');
    expect(receiver.contentTypes[0]).toBe('application/x-protobuf');
    const hello = receiver.spans.find((s) => s.name === 'Shop/hello')!;
    const [attempt] = await finished(t, 'attempt Shop/hello');
    expect(hello.kind).toBe(2); // OTLP's SPAN_KIND_SERVER
    expect(hello.traceId).toBe(attempt!.spanContext().traceId);
    expect(hello.parentSpanId).toBe(attempt!.spanContext().spanId);
    expect(hello.attributes).toMatchObject({ 'rpc.system.name': 'svc', 'rpc.method': 'Shop/hello', 'rpc.status_code': 'OK' });
    expect(hello.scope).toBe('@svc/telemetry');
    // OTEL_SERVICE_NAME wins over the name the code gives.
    expect(hello.resource).toMatchObject({ 'service.name': 'shop-from-env', 'service.version': '1.2.3' });
    const crash = receiver.spans.find((s) => s.name === 'Shop/crash')!;
    expect(crash.status).toEqual({ code: 2, message: 'the shop is on fire' }); // STATUS_CODE_ERROR
    expect(crash.attributes['error.type']).toBe('INTERNAL');
  });
});
