import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import type { Metadata } from '@svc/core';

/**
 * Reads a trace context from @svc metadata (propagation.extract). Received metadata has no
 * Object.prototype, but a client's own may: only string values count, so `toString` is never a header.
 */
export const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = (carrier as Record<string, unknown>)[key];
    return typeof value === 'string' ? value : undefined;
  },
};

/**
 * Writes a trace context into @svc metadata (propagation.inject). The W3C keys (`traceparent`,
 * `tracestate`, `baggage`) are lower-case ASCII and their values strings, as metadata requires.
 */
export const metadataSetter: TextMapSetter<Metadata> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};
