/**
 * @svc over TCP with protobuf (as svc-tcp-proto) and @svc/telemetry on both sides (issue 17):
 * what telemetry costs. `off` is startTelemetry({ enabled: false }), whose filter lists are
 * empty (target: within 2 % of svc-tcp-proto); `metrics` records the RPC metrics into a
 * Prometheus reader that nobody scrapes; `traces-1` and `traces-100` trace with a parent-based
 * ratio sampler (1 % and every call: target < 5 % at 1 %), batching the spans to an exporter
 * that drops them, so the cost is making, recording and batching spans, not a network.
 * The attempt filter is on in every row but `off` and `traces-1-no-attempts`, so each call takes
 * the fail mode's runner (docs/fail-modes.md): that row tells the runner's share apart.
 */
import { Client, protobufCodec, Server, staticRegistry } from '@svc/core';
import { startTelemetry, type TelemetryOptions } from '@svc/telemetry';
import { tcp } from '@svc/transport-tcp';
import { schemas } from '../generated/index.js';
import type { RowImpl } from '../row.js';
import { Echo } from './svc-echo.js';

type Mode = 'off' | 'metrics' | 'traces-1' | 'traces-1-no-attempts' | 'traces-100';

/** A span exporter that takes every batch and keeps nothing. */
const dropSpans = {
  export: (_spans: unknown[], done: (result: { code: number }) => void) => done({ code: 0 }),
  shutdown: async () => {},
  forceFlush: async () => {},
};

function options(mode: Mode, side: string): TelemetryOptions {
  const base = { serviceName: `bench-${side}` };
  switch (mode) {
    case 'off':
      return { ...base, enabled: false };
    case 'metrics':
      return { ...base, tracing: false, prometheus: { host: '127.0.0.1', port: 0 } };
    case 'traces-1':
      return { ...base, metrics: false, traceExporter: dropSpans, sampler: 0.01 };
    case 'traces-1-no-attempts':
      return { ...base, metrics: false, traceExporter: dropSpans, sampler: 0.01, attempts: false };
    case 'traces-100':
      return { ...base, metrics: false, traceExporter: dropSpans, sampler: 1 };
  }
}

function telemetryRow(mode: Mode): RowImpl {
  return {
    async server(env) {
      const telemetry = await startTelemetry(options(mode, 'server'));
      const server = new Server({ transport: tcp(), codecs: [protobufCodec({ schemas })], filters: telemetry.serverFilters() }).register(new Echo());
      const address = await server.listen(`tcp://${env.host}:0`);
      return { address, close: async () => (await server.close({ drainTimeout: 1000 }), await telemetry.shutdown()) };
    },

    async client(env) {
      const telemetry = await startTelemetry(options(mode, 'client'));
      const client = new Client({ transport: tcp(), codecs: [protobufCodec({ schemas })], registry: staticRegistry({ Echo: [env.address] }), ...telemetry.clientFilters() });
      return {
        call: (message) => client.invoke('Echo', 'echo', message),
        close: async () => (await client.close(), await telemetry.shutdown()),
      };
    },
  };
}

export const offRow = telemetryRow('off');
export const metricsRow = telemetryRow('metrics');
export const traces1Row = telemetryRow('traces-1');
export const traces1NoAttemptsRow = telemetryRow('traces-1-no-attempts');
export const traces100Row = telemetryRow('traces-100');
