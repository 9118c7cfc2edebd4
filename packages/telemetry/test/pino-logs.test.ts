import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Client, inproc, Server, staticRegistry } from '@svc/core';
import { pinoLogger, traceLogFields } from '../src/index.js';
import { shop } from './helpers/shop.js';
import { finished, startTestTelemetry, type TestTelemetry } from './helpers/test-telemetry.js';

/** A pino destination that keeps the lines written to it, parsed. */
function lines(): { stream: Writable; lines: Record<string, unknown>[] } {
  const kept: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') kept.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { stream, lines: kept };
}

describe('logs with trace ids', () => {
  let t: TestTelemetry;
  beforeAll(async () => {
    t = await startTestTelemetry({ metrics: false });
  });
  afterAll(async () => {
    await t?.telemetry.shutdown();
  });

  it('writes the server span\'s ids on what a handler logs through the core Logger', async () => {
    const out = lines();
    const logger = pinoLogger({ level: 'info' }, out.stream);
    const transport = inproc();
    const server = new Server({ transport, filters: t.telemetry.serverFilters(), logger }).register(shop(logger));
    const address = await server.listen('inproc://pino-shop');
    const client = new Client({ transport, registry: staticRegistry({ Shop: [address] }), ...t.telemetry.clientFilters() });
    await client.invoke('Shop', 'hello', { name: 'lu' });
    logger.info('outside any call');
    await client.close();
    await server.close();

    const [serverSpan] = (await finished(t, 'Shop/hello')).filter((s) => s.kind === 1);
    const inside = out.lines.find((l) => l.msg === 'hello lu')!;
    expect(inside).toMatchObject({ trace_id: serverSpan!.spanContext().traceId, span_id: serverSpan!.spanContext().spanId, trace_flags: '01', level: 30 });
    const outside = out.lines.find((l) => l.msg === 'outside any call')!;
    expect(outside.trace_id).toBeUndefined();
  });

  it('wraps a pino logger the application already has, keeping its level and extra arguments', () => {
    const out = lines();
    const logger = pinoLogger(pino({ level: 'warn' }, out.stream));
    logger.info('dropped: below the level');
    logger.warn('kept', 42);
    expect(out.lines.map((l) => l.msg)).toEqual(['kept']);
    expect(out.lines[0]).toMatchObject({ level: 40, args: [42] });
    // The same fields are there for a mixin of one's own.
    expect(traceLogFields()).toEqual({});
  });
});
