import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RowSpec } from '../row.js';

/**
 * Every row, in report order. Adding a row is one file in this folder (exporting a RowImpl as
 * `row`) and one entry here.
 */
export const ROWS: readonly RowSpec[] = [
  { id: 'svc-tcp-json', title: '@svc over TCP (JSON, svc-gen schema)', kind: 'svc', load: () => import('./svc-tcp-json.js').then((m) => m.row) },
  { id: 'svc-tcp-proto', title: '@svc over TCP (protobuf)', kind: 'svc', load: () => import('./svc-tcp-proto.js').then((m) => m.row) },
  { id: 'svc-tcp-failover', title: '@svc over TCP (protobuf), failover', kind: 'svc', load: () => import('./svc-tcp-fail-mode.js').then((m) => m.failoverRow) },
  { id: 'svc-tcp-failbackup', title: '@svc over TCP (protobuf), failbackup at p95', kind: 'svc', load: () => import('./svc-tcp-fail-mode.js').then((m) => m.failbackupRow) },
  { id: 'svc-tcp-p2c', title: '@svc over TCP (protobuf), 3 servers, P2C peak EWMA', kind: 'svc', load: () => import('./svc-tcp-p2c.js').then((m) => m.row) },
  { id: 'svc-tcp-telemetry-off', title: '@svc over TCP (protobuf), telemetry off', kind: 'svc', load: () => import('./svc-telemetry.js').then((m) => m.offRow) },
  { id: 'svc-tcp-telemetry-metrics', title: '@svc over TCP (protobuf), telemetry metrics', kind: 'svc', load: () => import('./svc-telemetry.js').then((m) => m.metricsRow) },
  { id: 'svc-tcp-telemetry-traces-1', title: '@svc over TCP (protobuf), traces at 1 %', kind: 'svc', load: () => import('./svc-telemetry.js').then((m) => m.traces1Row) },
  { id: 'svc-tcp-telemetry-traces-1-no-attempts', title: '@svc over TCP (protobuf), traces at 1 %, no attempt spans', kind: 'svc', load: () => import('./svc-telemetry.js').then((m) => m.traces1NoAttemptsRow) },
  { id: 'svc-tcp-telemetry-traces-100', title: '@svc over TCP (protobuf), traces at 100 %', kind: 'svc', load: () => import('./svc-telemetry.js').then((m) => m.traces100Row) },
  { id: 'svc-tcp-filters-noop', title: '@svc over TCP (protobuf), do-nothing filters where resilience puts its own', kind: 'svc', load: () => import('./svc-resilience.js').then((m) => m.noopRow) },
  { id: 'svc-tcp-filters-noop-call', title: '@svc over TCP (protobuf), one do-nothing call filter', kind: 'svc', load: () => import('./svc-resilience.js').then((m) => m.noopCallRow) },
  { id: 'svc-tcp-filters-noop-attempt', title: '@svc over TCP (protobuf), one do-nothing attempt filter', kind: 'svc', load: () => import('./svc-resilience.js').then((m) => m.noopAttemptRow) },
  { id: 'svc-tcp-filters-noop-server', title: '@svc over TCP (protobuf), one do-nothing server filter', kind: 'svc', load: () => import('./svc-resilience.js').then((m) => m.noopServerRow) },
  { id: 'svc-tcp-resilience', title: '@svc over TCP (protobuf), breaker + limit + auth on both sides', kind: 'svc', load: () => import('./svc-resilience.js').then((m) => m.allRow) },
  { id: 'svc-tcp-resilience-breaker', title: '@svc over TCP (protobuf), circuit breaker', kind: 'svc', load: () => import('./svc-resilience.js').then((m) => m.breakerRow) },
  { id: 'svc-tcp-resilience-limit', title: '@svc over TCP (protobuf), rate limit on both sides', kind: 'svc', load: () => import('./svc-resilience.js').then((m) => m.limitRow) },
  { id: 'svc-tcp-resilience-auth', title: '@svc over TCP (protobuf), JWT auth', kind: 'svc', load: () => import('./svc-resilience.js').then((m) => m.authRow) },
  { id: 'svc-nats', title: '@svc over NATS (JSON, svc-gen schema)', kind: 'svc', broker: 'nats', load: () => import('./svc-nats.js').then((m) => m.row) },
  { id: 'svc-nats-proto', title: '@svc over NATS (protobuf)', kind: 'svc', broker: 'nats', load: () => import('./svc-nats-proto.js').then((m) => m.row) },
  { id: 'raw-net', title: 'raw net, length-prefixed frames', kind: 'ceiling', load: () => import('./raw-net.js').then((m) => m.row) },
  { id: 'grpc-js', title: 'grpc-js unary (protobuf)', kind: 'peer', load: () => import('./grpc-js.js').then((m) => m.row) },
  { id: 'moleculer-tcp', title: 'Moleculer, TCP transporter', kind: 'peer', load: () => import('./moleculer-tcp.js').then((m) => m.row) },
  { id: 'moleculer-nats', title: 'Moleculer, NATS transporter', kind: 'peer', broker: 'nats', load: () => import('./moleculer-nats.js').then((m) => m.row) },
  { id: 'nest-tcp', title: 'NestJS microservices, TCP', kind: 'peer', load: () => import('./nest-tcp.js').then((m) => m.row) },
  { id: 'nest-nats', title: 'NestJS microservices, NATS', kind: 'peer', broker: 'nats', load: () => import('./nest-nats.js').then((m) => m.row) },
  { id: 'nats-request', title: 'nats.js request()', kind: 'peer', broker: 'nats', load: () => import('./nats-request.js').then((m) => m.row) },
];

export function findRow(id: string): RowSpec {
  const row = ROWS.find((r) => r.id === id);
  if (!row) throw new Error(`no bench row '${id}'; rows: ${ROWS.map((r) => r.id).join(', ')}`);
  return row;
}

/** For rows on a package another team is still writing: runnable once it resolves and is built. */
export function needsPackage(name: string): () => string | undefined {
  return () => {
    let url: string;
    try {
      url = import.meta.resolve(name);
    } catch {
      return `needs ${name} (not a dependency of tools/bench yet, or not built)`;
    }
    return url.startsWith('file:') && !existsSync(fileURLToPath(url)) ? `needs ${name} built (${fileURLToPath(url)} is missing)` : undefined;
  };
}
