import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, staticRegistry } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { DURATION_BUCKETS } from '../src/semconv.js';
import { freePort } from './helpers/free-port.js';
import { eventually } from '@svc/transport-nats/testing';
import { pointWith, points, startTestTelemetry, type HistogramPoint, type TestTelemetry } from './helpers/test-telemetry.js';
import { TracedService } from './helpers/traced-service.js';

/** One sample of a Prometheus text exposition: the value of `name` whose labels include all of `labels`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

// A known load from this process to the Shop server in another: the client's metrics read here,
// the server's scraped from its Prometheus endpoint over HTTP.
describe('metrics after a known load', () => {
  let t: TestTelemetry;
  let shop: TracedService;
  let client: Client;
  let prometheusPort: number;
  let address: string;

  beforeAll(async () => {
    t = await startTestTelemetry({ tracing: false });
    prometheusPort = await freePort();
    shop = new TracedService({ transport: 'tcp', prometheusPort });
    address = await shop.address;
    client = new Client({ transport: tcp(), registry: staticRegistry({ Shop: [address] }), ...t.telemetry.clientFilters() });
    for (let i = 0; i < 10; i++) await client.invoke('Shop', 'hello', { name: `n${i}` });
    for (let i = 0; i < 3; i++) await client.invoke('Shop', 'reject', {}).catch(() => undefined);
    for (let i = 0; i < 2; i++) await client.invoke('Shop', 'crash', {}).catch(() => undefined);
  });

  afterAll(async () => {
    await client?.close();
    await shop?.stop();
    await t?.telemetry.shutdown();
  });

  it('counts client calls by status in rpc.client.call.duration, in seconds, with the conventions\' buckets', async () => {
    const durations = (await points(t.reader, 'rpc.client.call.duration')) as HistogramPoint[];
    const ok = pointWith(durations, { 'rpc.method': 'Shop/hello', 'rpc.status_code': 'OK' })!;
    expect(ok.value.count).toBe(10);
    expect(ok.attributes['rpc.system.name']).toBe('svc');
    expect(ok.attributes['error.type']).toBeUndefined();
    expect(ok.value.buckets.boundaries).toEqual(DURATION_BUCKETS);
    // Seconds: ten loopback calls take more than nothing and far less than ten seconds.
    expect(ok.value.sum).toBeGreaterThan(0);
    expect(ok.value.sum).toBeLessThan(5);
    expect(pointWith(durations, { 'rpc.method': 'Shop/reject', 'rpc.status_code': 'INVALID_ARGUMENT', 'error.type': 'INVALID_ARGUMENT' })?.value.count).toBe(3);
    expect(pointWith(durations, { 'rpc.method': 'Shop/crash', 'rpc.status_code': 'INTERNAL', 'error.type': 'INTERNAL' })?.value.count).toBe(2);

    // Calls by the attempts they made: each of the ten made one.
    const attempts = await points(t.reader, 'svc.rpc.client.attempts');
    expect(pointWith(attempts, { 'rpc.method': 'Shop/hello', 'svc.attempts': 1 })?.value).toBe(10);
  });

  it('counts calls in flight while they are, and none after', async () => {
    const slow = Array.from({ length: 4 }, () => client.invoke('Shop', 'slow', { ms: 1500 }));
    const inFlight = async () => pointWith(await points(t.reader, 'svc.rpc.client.active_calls'), { 'rpc.method': 'Shop/slow' })?.value;
    const serverInFlight = async () => sample(await (await fetch(`http://127.0.0.1:${prometheusPort}/metrics`)).text(), 'svc_rpc_server_active_calls', { rpc_method: 'Shop/slow' });
    await eventually(async () => (await inFlight()) === 4 && (await serverInFlight()) === 4, 1200, 'four calls in flight on both sides');
    await Promise.all(slow);
    expect(await inFlight()).toBe(0);
    expect(await serverInFlight()).toBe(0);
  });

  it('serves the server\'s metrics on its Prometheus endpoint, over HTTP', async () => {
    const response = await fetch(`http://127.0.0.1:${prometheusPort}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(sample(text, 'rpc_server_call_duration_count', { rpc_method: 'Shop/hello', rpc_status_code: 'OK' })).toBe(10);
    // INVALID_ARGUMENT is the caller's fault: a status code, but no error.type on the server.
    const rejected = text.split('\n').find((l) => l.startsWith('rpc_server_call_duration_count') && l.includes('rpc_status_code="INVALID_ARGUMENT"'));
    expect(rejected).toBeDefined();
    expect(rejected).not.toContain('error_type');
    expect(sample(rejected!, 'rpc_server_call_duration_count', {})).toBe(3);
    expect(sample(text, 'rpc_server_call_duration_count', { rpc_method: 'Shop/crash', error_type: 'INTERNAL' })).toBe(2);
    expect(sample(text, 'rpc_server_call_duration_bucket', { rpc_method: 'Shop/hello', rpc_status_code: 'OK', le: '10' })).toBe(10);
    // The TCP listener's own gauges, through observeTransport: this client's one connection.
    expect(sample(text, 'svc_server_connections', { server_address: '127.0.0.1', server_port: new URL(address).port })).toBe(1);
    // And the bytes it read and wrote: at least the calls' own frames (each is more than 20 bytes).
    const bytes = (prefix: string) => Number(text.split('\n').find((l) => l.startsWith(prefix) && l.includes(`server_port="${new URL(address).port}"`))?.split(' ').pop());
    expect(bytes('svc_server_received_bytes')).toBeGreaterThan(20 * 15);
    expect(bytes('svc_server_sent_bytes')).toBeGreaterThan(20 * 15);
    expect(sample(text, 'target_info', { service_name: 'shop', service_version: '1.2.3' })).toBe(1);
    expect((await fetch(`http://127.0.0.1:${prometheusPort}/elsewhere`)).status).toBe(404);
  });
});
