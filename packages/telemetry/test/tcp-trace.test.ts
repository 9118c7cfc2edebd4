import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Client, RpcError, staticRegistry } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { eventually } from '@svc/transport-nats/testing';
import { finished, startTestTelemetry, type TestTelemetry } from './helpers/test-telemetry.js';
import { TracedService, type ChildSpan } from './helpers/traced-service.js';

// The client here, the Shop server in a child process, over TCP: one trace across both.
describe('tracing over TCP, across processes', () => {
  let t: TestTelemetry;
  let shop: TracedService;
  let client: Client;
  let address: string;

  beforeAll(async () => {
    t = await startTestTelemetry();
    shop = new TracedService({ transport: 'tcp' });
    address = await shop.address;
    client = new Client({ transport: tcp(), registry: staticRegistry({ Shop: [address] }), ...t.telemetry.clientFilters() });
  });

  afterAll(async () => {
    await client?.close();
    await shop?.stop();
    await t?.telemetry.shutdown();
  });

  async function childSpan(name: string, traceId: string): Promise<ChildSpan> {
    let found: ChildSpan | undefined;
    await eventually(async () => (found = (await shop.spans()).find((s) => s.name === name && s.traceId === traceId)) !== undefined, 5000, `the child's span ${name}`);
    return found!;
  }

  it('makes the server span in the other process the child of the attempt span, with the handler inside it', async () => {
    t.spans.reset();
    const reply = await client.invoke<{ greeting: string; spanId: string; traceId: string; traceparent: string }>('Shop', 'hello', { name: 'ada' });
    expect(reply.greeting).toBe('hello ada');

    const [call] = await finished(t, 'Shop/hello');
    const [attempt] = await finished(t, 'attempt Shop/hello');
    expect(call!.kind).toBe(SpanKind.CLIENT);
    expect(call!.attributes).toMatchObject({ 'rpc.system.name': 'svc', 'rpc.method': 'Shop/hello', 'rpc.status_code': 'OK' });
    expect(call!.status.code).toBe(SpanStatusCode.UNSET);
    expect(attempt!.kind).toBe(SpanKind.CLIENT);
    expect(attempt!.parentSpanContext?.spanId).toBe(call!.spanContext().spanId);
    const port = Number(new URL(address).port);
    expect(attempt!.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': port, 'svc.attempt': 1, 'rpc.status_code': 'OK' });

    const traceId = call!.spanContext().traceId;
    const server = await childSpan('Shop/hello', traceId);
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.service).toBe('shop');
    expect(server.parentSpanId).toBe(attempt!.spanContext().spanId);
    expect(server.attributes).toMatchObject({ 'rpc.system.name': 'svc', 'rpc.method': 'Shop/hello', 'rpc.status_code': 'OK', 'network.peer.address': '127.0.0.1' });
    // The handler ran inside its span, and the metadata carried the attempt's W3C context.
    expect(reply.spanId).toBe(server.spanId);
    expect(reply.traceparent).toBe(`00-${traceId}-${attempt!.spanContext().spanId}-01`);
  });

  it('continues the trace of the span active at the call, and carries baggage', async () => {
    t.spans.reset();
    const tracer = trace.getTracer('test');
    const baggage = propagation.createBaggage({ tenant: { value: 'acme' } });
    const outer = tracer.startSpan('checkout');
    const reply = await context.with(propagation.setBaggage(trace.setSpan(context.active(), outer), baggage), () =>
      client.invoke<{ tenant: string; traceId: string }>('Shop', 'hello', { name: 'bob' }),
    );
    outer.end();
    const [call] = await finished(t, 'Shop/hello');
    expect(call!.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(reply.traceId).toBe(outer.spanContext().traceId);
    expect(reply.tenant).toBe('acme');
  });

  it('nests a downstream call of the handler under its server span', async () => {
    t.spans.reset();
    await client.invoke('Shop', 'nested', { name: 'cy' });
    const [call] = await finished(t, 'Shop/nested');
    const traceId = call!.spanContext().traceId;
    const nestedServer = await childSpan('Shop/nested', traceId);
    const helloServer = await childSpan('Shop/hello', traceId);
    const spans = (await shop.spans()).filter((s) => s.traceId === traceId);
    const downstreamCall = spans.find((s) => s.name === 'Shop/hello' && s.kind === SpanKind.CLIENT)!;
    const downstreamAttempt = spans.find((s) => s.name === 'attempt Shop/hello')!;
    expect(downstreamCall.parentSpanId).toBe(nestedServer.spanId);
    expect(downstreamAttempt.parentSpanId).toBe(downstreamCall.spanId);
    expect(helloServer.parentSpanId).toBe(downstreamAttempt.spanId);
  });

  it('marks client spans failed on every error code, server spans only on the server-side ones', async () => {
    t.spans.reset();
    const codes: Record<string, string> = {};
    for (const method of ['reject', 'crash', 'explode', 'nope']) {
      const error = await client.invoke('Shop', method, {}).catch((e: unknown) => e);
      expect(RpcError.is(error)).toBe(true);
      codes[method] = (error as RpcError).code;
    }
    expect(codes).toEqual({ reject: 'INVALID_ARGUMENT', crash: 'INTERNAL', explode: 'UNKNOWN', nope: 'UNIMPLEMENTED' });

    for (const [method, code] of Object.entries(codes)) {
      const [call] = await finished(t, `Shop/${method}`);
      expect(call!.status.code, method).toBe(SpanStatusCode.ERROR);
      expect(call!.attributes['error.type'], method).toBe(code);
      expect(call!.attributes['rpc.status_code'], method).toBe(code);
    }

    const traceOf = async (method: string) => (await finished(t, `Shop/${method}`))[0]!.spanContext().traceId;
    const rejected = await childSpan('Shop/reject', await traceOf('reject'));
    expect(rejected.attributes['rpc.status_code']).toBe('INVALID_ARGUMENT');
    expect(rejected.status).toBe(SpanStatusCode.UNSET); // the caller's mistake, not the server's
    expect(rejected.attributes['error.type']).toBeUndefined();

    const crashed = await childSpan('Shop/crash', await traceOf('crash'));
    expect(crashed.status).toBe(SpanStatusCode.ERROR);
    expect(crashed.statusMessage).toBe('the shop is on fire');
    expect(crashed.attributes['error.type']).toBe('INTERNAL');

    const exploded = await childSpan('Shop/explode', await traceOf('explode'));
    expect(exploded.status).toBe(SpanStatusCode.ERROR);
    expect(exploded.attributes['error.type']).toBe('UNKNOWN');

    // An unknown method: `_OTHER`, the span named after the RPC system, the name asked for kept apart.
    const unknown = await childSpan('svc', await traceOf('nope'));
    expect(unknown.attributes).toMatchObject({ 'rpc.method': '_OTHER', 'rpc.method_original': 'Shop/nope', 'rpc.status_code': 'UNIMPLEMENTED' });
    expect(unknown.status).toBe(SpanStatusCode.ERROR);
  });
});
