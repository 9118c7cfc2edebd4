import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanStatusCode } from '@opentelemetry/api';
import { Client, staticRegistry, type Selector } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { freePort } from './helpers/free-port.js';
import { eventually } from '@svc/transport-nats/testing';
import { finished, pointWith, points, startTestTelemetry, type TestTelemetry } from './helpers/test-telemetry.js';
import { TracedService } from './helpers/traced-service.js';

/** Always the first node of the registry's list not tried yet: the dead one goes first. */
const inOrder: Selector = { select: (nodes, _call, tried) => nodes.find((n) => !tried.includes(n.address)) ?? nodes[0]! };

// Retries and failovers as attempt spans: a node that refuses connections, a method that fails twice.
describe('attempts as spans', () => {
  let t: TestTelemetry;
  let shop: TracedService;
  let good: string;
  let dead: string;

  beforeAll(async () => {
    t = await startTestTelemetry();
    shop = new TracedService({ transport: 'tcp' });
    good = await shop.address;
    dead = `tcp://127.0.0.1:${await freePort()}`; // nothing listens there: connections are refused
  });

  afterAll(async () => {
    await shop?.stop();
    await t?.telemetry.shutdown();
  });

  it('shows a failover past a refusing node as two attempts under one successful call', async () => {
    t.spans.reset();
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Shop: [dead, good] }), selector: inOrder, failMode: 'failover', ...t.telemetry.clientFilters() });
    try {
      await client.invoke('Shop', 'hello', { name: 'dee' });
    } finally {
      await client.close();
    }
    const [call] = await finished(t, 'Shop/hello');
    const attempts = (await finished(t, 'attempt Shop/hello')).sort((a, b) => (a.attributes['svc.attempt'] as number) - (b.attributes['svc.attempt'] as number));
    expect(attempts).toHaveLength(2);
    expect(attempts.map((a) => a.parentSpanContext?.spanId)).toEqual([call!.spanContext().spanId, call!.spanContext().spanId]);
    expect(attempts[0]!.attributes).toMatchObject({ 'svc.attempt': 1, 'server.port': Number(new URL(dead).port), 'rpc.status_code': 'UNAVAILABLE', 'error.type': 'UNAVAILABLE' });
    expect(attempts[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(attempts[1]!.attributes).toMatchObject({ 'svc.attempt': 2, 'server.port': Number(new URL(good).port), 'rpc.status_code': 'OK' });
    // A failure that was retried away is not the call's: its span is OK.
    expect(call!.status.code).toBe(SpanStatusCode.UNSET);
    expect(call!.attributes['rpc.status_code']).toBe('OK');

    // The server in the other process saw only the second attempt, as its child.
    const traceId = call!.spanContext().traceId;
    await eventually(async () => (await shop.spans()).some((s) => s.traceId === traceId && s.name === 'Shop/hello'), 5000, 'the server span');
    const servers = (await shop.spans()).filter((s) => s.traceId === traceId && s.name === 'Shop/hello');
    expect(servers.map((s) => s.parentSpanId)).toEqual([attempts[1]!.spanContext().spanId]);

    // The call is counted among those that made two attempts.
    const byAttempts = await points(t.reader, 'svc.rpc.client.attempts');
    expect(pointWith(byAttempts, { 'rpc.method': 'Shop/hello', 'svc.attempts': 2 })?.value).toBe(1);
    expect(pointWith(byAttempts, { 'rpc.method': 'Shop/hello', 'svc.attempts': 1 })).toBeUndefined();
  });

  it('shows failretry on the same node as attempts, each with its own server span', async () => {
    t.spans.reset();
    const client = new Client({
      transport: tcp(),
      registry: staticRegistry({ Shop: [good] }),
      failMode: { mode: 'failretry', maxAttempts: 3, backoff: { initialMs: 5, maxMs: 20 } },
      ...t.telemetry.clientFilters(),
    });
    let reply: { failed: number };
    try {
      reply = await client.invoke('Shop', 'flaky', { key: 'k1', failures: 2 }, { idempotent: true });
    } finally {
      await client.close();
    }
    expect(reply.failed).toBe(2);
    const [call] = await finished(t, 'Shop/flaky');
    const attempts = (await finished(t, 'attempt Shop/flaky')).sort((a, b) => (a.attributes['svc.attempt'] as number) - (b.attributes['svc.attempt'] as number));
    expect(attempts.map((a) => a.attributes['rpc.status_code'])).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'OK']);
    expect(new Set(attempts.map((a) => a.attributes['server.port']))).toEqual(new Set([Number(new URL(good).port)]));
    expect(call!.attributes['rpc.status_code']).toBe('OK');

    const traceId = call!.spanContext().traceId;
    await eventually(async () => (await shop.spans()).filter((s) => s.traceId === traceId && s.name === 'Shop/flaky').length === 3, 5000, 'three server spans');
    const servers = (await shop.spans()).filter((s) => s.traceId === traceId && s.name === 'Shop/flaky');
    expect(new Set(servers.map((s) => s.parentSpanId))).toEqual(new Set(attempts.map((a) => a.spanContext().spanId)));
    // UNAVAILABLE is a server-side failure: those server spans are errors too.
    expect(servers.filter((s) => s.status === SpanStatusCode.ERROR)).toHaveLength(2);
  });

  it('shows a hedge as an attempt marked hedge, cancelled when the first answer wins', async () => {
    t.spans.reset();
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Shop: [good] }), failMode: { mode: 'failbackup', hedgeDelay: 50, maxAttempts: 2 }, ...t.telemetry.clientFilters() });
    try {
      await client.invoke('Shop', 'slow', { ms: 300 }, { idempotent: true });
    } finally {
      await client.close();
    }
    const attempts = (await finished(t, 'attempt Shop/slow')).sort((a, b) => (a.attributes['svc.attempt'] as number) - (b.attributes['svc.attempt'] as number));
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.attributes['svc.attempt.hedge']).toBeUndefined();
    expect(attempts[1]!.attributes).toMatchObject({ 'svc.attempt': 2, 'svc.attempt.hedge': true });
    // Whichever answered first (the first, almost always), the other was cancelled.
    expect(attempts.map((a) => a.attributes['rpc.status_code']).sort()).toEqual(['CANCELLED', 'OK']);
    const [call] = await finished(t, 'Shop/slow');
    expect(call!.attributes['rpc.status_code']).toBe('OK');
  });
});
