import { describe, expect, it } from 'vitest';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { unsampledIds, unsampledTraceparent } from '../src/trace-ids.js';
import { metadataGetter } from '../src/metadata-carrier.js';

const w3c = new W3CTraceContextPropagator();
/** What the SDK's propagator reads from a header: the span context, or undefined. */
const byPropagator = (traceparent: string) => trace.getSpanContext(w3c.extract(ROOT_CONTEXT, { traceparent }, metadataGetter));

describe('traceparents for unsampled traces', () => {
  it('writes headers the W3C propagator reads as unsampled, with ids fresh each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const header = unsampledTraceparent();
      const read = byPropagator(header)!;
      expect(read).toMatchObject({ traceFlags: 0, isRemote: true });
      expect(unsampledIds(header)).toEqual({ traceId: read.traceId, spanId: read.spanId });
      seen.add(read.traceId);
    }
    expect(seen.size).toBe(600); // across batches of 256
  });

  it('reads only the exact unsampled form; the propagator takes everything else', () => {
    const id = '4bf92f3577b34da6a3ce929d0e0e4736';
    const span = '00f067aa0ba902b7';
    expect(unsampledIds(`00-${id}-${span}-00`)).toEqual({ traceId: id, spanId: span });
    for (const other of [
      `00-${id}-${span}-01`, // sampled
      `01-${id}-${span}-00`, // another version
      `00-${id.toUpperCase()}-${span}-00`,
      `00-${'0'.repeat(32)}-${span}-00`,
      `00-${id}-${'0'.repeat(16)}-00`,
      `00-${id}-${span}-00-extra`,
      ` 00-${id}-${span}-00`,
      `00-${id}x${span}-00`,
      `00-${id.slice(1)}g-${span}-00`,
    ]) {
      expect(unsampledIds(other), other).toBeUndefined();
    }
    expect(unsampledIds(undefined)).toBeUndefined();
    expect(unsampledIds(42)).toBeUndefined();
  });
});
