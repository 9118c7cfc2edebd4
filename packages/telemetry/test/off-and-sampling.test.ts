import { afterEach, describe, expect, it } from 'vitest';
import { context, propagation, SpanKind, trace, type Attributes, type Span, type SpanOptions, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { Client, inproc, Server, staticRegistry } from '@svc/core';
import { clientTelemetryFilters, serverTelemetryFilters, startTelemetry } from '../src/index.js';
import { shop } from './helpers/shop.js';
import { finished, startTestTelemetry, type TestTelemetry } from './helpers/test-telemetry.js';

async function serve(filters: { client: Parameters<typeof clientTelemetryFilters>[0] } | undefined, telemetry?: TestTelemetry) {
  const transport = inproc();
  const service = shop();
  const server = new Server({ transport, filters: telemetry?.telemetry.serverFilters() ?? serverTelemetryFilters(filters?.client) }).register(service);
  const address = await server.listen(`inproc://shop-${Math.random()}`);
  const client = new Client({ transport, registry: staticRegistry({ Shop: [address] }), eventAddress: address, ...(telemetry?.telemetry.clientFilters() ?? clientTelemetryFilters(filters?.client)) });
  return { service, client, close: async () => (await client.close(), await server.close()) };
}

describe('telemetry off', () => {
  const saved = process.env.OTEL_SDK_DISABLED;
  afterEach(() => {
    if (saved === undefined) delete process.env.OTEL_SDK_DISABLED;
    else process.env.OTEL_SDK_DISABLED = saved;
  });

  it('gives no filters at all with OTEL_SDK_DISABLED=true, so a client and server cost what they did', async () => {
    process.env.OTEL_SDK_DISABLED = 'true';
    const telemetry = await startTelemetry({ serviceName: 'off', prometheus: { port: 0 } });
    expect(telemetry.enabled).toBe(false);
    expect(telemetry.prometheusUrl).toBeUndefined();
    expect(telemetry.clientFilters()).toEqual({ filters: [], attemptFilters: [] });
    expect(telemetry.serverFilters()).toEqual([]);
    expect(clientTelemetryFilters()).toEqual({ filters: [], attemptFilters: [] });
    expect(serverTelemetryFilters()).toEqual([]);
    await telemetry.shutdown();
  });

  it('gives no filters with enabled: false, or with neither tracing nor metrics', () => {
    expect(clientTelemetryFilters({ enabled: false })).toEqual({ filters: [], attemptFilters: [] });
    expect(serverTelemetryFilters({ tracing: false, metrics: false })).toEqual([]);
    expect(clientTelemetryFilters({ attempts: false }).attemptFilters).toEqual([]);
    expect(clientTelemetryFilters().filters).toHaveLength(1);
  });
});

/** A tracer whose spans are never recorded, and that tells what was asked of them. */
function watchingProvider() {
  const asked = { starts: [] as (Attributes | undefined)[], writes: 0 };
  const unsampled = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 0 });
  const span = new Proxy(unsampled, {
    get(target, key, receiver) {
      if (key === 'setAttribute' || key === 'setAttributes' || key === 'setStatus' || key === 'addEvent' || key === 'recordException') asked.writes++;
      return Reflect.get(target, key, receiver);
    },
  });
  const tracer: Tracer = {
    startSpan: (_name: string, options?: SpanOptions) => (asked.starts.push(options?.attributes), span as Span),
    startActiveSpan: (() => undefined) as unknown as Tracer['startActiveSpan'],
  };
  const provider: TracerProvider = { getTracer: () => tracer };
  return { provider, asked };
}

describe('sampling', () => {
  it('builds nothing for a call that is not sampled: no attributes, no span under an unsampled parent', async () => {
    const { provider, asked } = watchingProvider();
    const { client, close } = await serve({ client: { tracerProvider: provider, propagator: new W3CTraceContextPropagator(), metrics: false } });
    for (let i = 0; i < 5; i++) await client.invoke('Shop', 'hello', { name: 'x' });
    await client.invoke('Shop', 'reject', {}).catch(() => undefined);
    await close();
    // The sampler is asked once per call, at the root (the client); the server follows the
    // caller's decision without a span, and no attempt span is made under an unrecorded call.
    expect(asked.starts).toHaveLength(6);
    expect(asked.starts.every((a) => a === undefined)).toBe(true); // no attribute map handed to the SDK
    expect(asked.writes).toBe(0);
  });

  it('carries the decision not to sample to the server, which records nothing either', async () => {
    const t = await startTestTelemetry({ sampler: 0 });
    try {
      const { service, client, close } = await serve(undefined, t);
      // The handler runs in the caller's (unsampled) context, as the propagator would have made it.
      const { spanId } = await client.invoke<{ spanId: string }>('Shop', 'hello', { name: 'x' });
      expect(spanId).toBe(service.seen[0]!.traceparent!.slice(36, 52));
      await client.publish('orders.created', { id: 1 });
      for (let i = 0; i < 50 && service.seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      await close();
      expect(service.seen).toHaveLength(2);
      for (const { traceparent } of service.seen) expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      expect(await finished(t)).toEqual([]);
    } finally {
      await t.telemetry.shutdown();
    }
  });

  it('draws a new trace’s decision once: at ratio 1 every call is recorded, and ids differ from call to call', async () => {
    const t = await startTestTelemetry({ sampler: 1, metrics: false });
    try {
      const { service, client, close } = await serve(undefined, t);
      for (let i = 0; i < 20; i++) await client.invoke('Shop', 'hello', { name: 'x' });
      await close();
      const calls = (await finished(t, 'Shop/hello')).filter((s) => s.kind === SpanKind.CLIENT);
      expect(calls).toHaveLength(20);
      expect(new Set(calls.map((s) => s.spanContext().traceId)).size).toBe(20);
      for (const { traceparent } of service.seen) expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    } finally {
      await t.telemetry.shutdown();
    }
  });

  it('an unsampled new trace gets fresh ids per call, and a call under a span or with baggage follows the normal path', async () => {
    const t = await startTestTelemetry({ sampler: 0, metrics: false });
    try {
      const { service, client, close } = await serve(undefined, t);
      for (let i = 0; i < 300; i++) await client.invoke('Shop', 'hello', { name: 'x' });
      const ids = service.seen.map((s) => s.traceparent);
      expect(new Set(ids.map((p) => p!.slice(3, 35))).size).toBe(300);
      expect(new Set(ids.map((p) => p!.slice(36, 52))).size).toBe(300);
      // Under a sampled parent (a caller's, say): its child, whatever the ratio of new traces.
      const recorded = trace.setSpanContext(context.active(), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true });
      await context.with(recorded, () => client.invoke('Shop', 'hello', { name: 'y' }));
      expect(service.seen.at(-1)!.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
      // With baggage: the propagator's path, so the baggage travels.
      const withBaggage = propagation.setBaggage(context.active(), propagation.createBaggage({ tenant: { value: 'acme' } }));
      await context.with(withBaggage, () => client.invoke('Shop', 'hello', { name: 'z' }));
      expect(service.seen.at(-1)!.baggage).toBe('tenant=acme');
      expect(service.seen.at(-1)!.traceparent).toMatch(/-00$/);
      await close();
    } finally {
      await t.telemetry.shutdown();
    }
  });

  it("records about the ratio of new traces, and the server follows the caller's decision", async () => {
    const t = await startTestTelemetry({ sampler: 0.5, metrics: false });
    try {
      const { client, close } = await serve(undefined, t);
      for (let i = 0; i < 200; i++) await client.invoke('Shop', 'hello', { name: 'x' });
      await close();
      const spans = await finished(t, 'Shop/hello');
      const calls = spans.filter((s) => s.kind === SpanKind.CLIENT);
      // Binomial(200, 0.5): outside 60…140 once in far more than a billion runs.
      expect(calls.length).toBeGreaterThan(60);
      expect(calls.length).toBeLessThan(140);
      // Parent based: each recorded call's server span is recorded too, none of the others.
      expect(spans.filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(calls.length);
    } finally {
      await t.telemetry.shutdown();
    }
  });
});
