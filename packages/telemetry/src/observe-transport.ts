import { metrics, type Attributes, type MeterProvider } from '@opentelemetry/api';
import type { Dispatcher, Listener, Transport } from '@svc/core';
import { resolveFilterOptions } from './filter-options.js';
import { SCOPE_NAME, SCOPE_VERSION } from './instrumentation-scope.js';
import { parseServerAddress } from './node-address.js';
import {
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  METRIC_SVC_SERVER_BUFFERED_BYTES,
  METRIC_SVC_SERVER_CONNECTIONS,
  METRIC_SVC_SERVER_RECEIVED_BYTES,
  METRIC_SVC_SERVER_SENT_BYTES,
  METRIC_SVC_SERVER_UNSENT_BYTES,
} from './semconv.js';

/** What a listener may tell about itself (the TCP listener's `stats`). */
interface ListenerStats {
  readonly connections: number;
  readonly bufferedBytes: number;
  readonly unsentBytes: number;
  /** Totals since the listener opened; a listener without them reports no bytes. */
  readonly bytesRead?: number;
  readonly bytesWritten?: number;
}

function statsOf(listener: Listener): ListenerStats | undefined {
  const stats = (listener as { stats?: unknown }).stats;
  return typeof stats === 'object' && stats !== null && typeof (stats as ListenerStats).connections === 'number' ? (stats as ListenerStats) : undefined;
}

export interface ObserveTransportOptions {
  /** false (or OTEL_SDK_DISABLED=true): the transport is returned as it is. */
  enabled?: boolean;
  /** Default: the global one. */
  meterProvider?: MeterProvider;
}

/**
 * The transport, with gauges for the listeners it opens that report `stats` (TCP, TLS and unix
 * listeners do): open connections (`svc.server.connections`), bytes of incomplete frames held
 * (`svc.server.buffered_bytes`), answers waiting to be sent (`svc.server.unsent_bytes`), and the
 * bytes read and written since it opened (`svc.server.received_bytes`, `svc.server.sent_bytes`), each
 * by the listener's `server.address` and `server.port`. Read when metrics are collected, so calls
 * cost nothing more. Pass the result to a Server: `new Server({ transport: observeTransport(tcp()) })`.
 */
export function observeTransport<T extends Transport>(transport: T, options: ObserveTransportOptions = {}): T {
  if (resolveFilterOptions({ enabled: options.enabled, tracing: false }) === undefined) return transport;
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE_NAME, SCOPE_VERSION);
  const listening = new Map<Listener, Attributes>();
  const connections = meter.createObservableUpDownCounter(METRIC_SVC_SERVER_CONNECTIONS, { unit: '{connection}', description: 'Connections a server listener has open.' });
  const buffered = meter.createObservableUpDownCounter(METRIC_SVC_SERVER_BUFFERED_BYTES, { unit: 'By', description: 'Bytes of incomplete frames a server listener holds.' });
  const unsent = meter.createObservableUpDownCounter(METRIC_SVC_SERVER_UNSENT_BYTES, { unit: 'By', description: 'Bytes of answers a server listener has not written yet.' });
  const received = meter.createObservableCounter(METRIC_SVC_SERVER_RECEIVED_BYTES, { unit: 'By', description: 'Bytes a server listener has read from its connections since it opened.' });
  const sent = meter.createObservableCounter(METRIC_SVC_SERVER_SENT_BYTES, { unit: 'By', description: 'Bytes a server listener has written to its connections since it opened.' });
  meter.addBatchObservableCallback(
    (result) => {
      for (const [listener, attributes] of listening) {
        const stats = statsOf(listener)!;
        result.observe(connections, stats.connections, attributes);
        result.observe(buffered, stats.bufferedBytes, attributes);
        result.observe(unsent, stats.unsentBytes, attributes);
        if (stats.bytesRead !== undefined) result.observe(received, stats.bytesRead, attributes);
        if (stats.bytesWritten !== undefined) result.observe(sent, stats.bytesWritten, attributes);
      }
    },
    [connections, buffered, unsent, received, sent],
  );
  const listen = async (address: string, dispatcher: Dispatcher): Promise<Listener> => {
    const listener = await transport.listen(address, dispatcher);
    if (statsOf(listener) === undefined) return listener;
    const { address: host, port } = parseServerAddress(listener.address);
    listening.set(listener, Object.freeze(port === undefined ? { [ATTR_SERVER_ADDRESS]: host } : { [ATTR_SERVER_ADDRESS]: host, [ATTR_SERVER_PORT]: port }));
    // The listener itself is kept whole (its methods keep their own `this`); closing it ends its gauges.
    return {
      address: listener.address,
      drain: () => listener.drain().finally(() => listening.delete(listener)),
      close: () => listener.close().finally(() => listening.delete(listener)),
    };
  };
  // A proxy rather than a copy: every other member (connect, the event seam) is the transport's own.
  return new Proxy(transport, {
    get(target, key) {
      if (key === 'listen') return listen;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
