import type { MethodDefinition, ServiceDefinition } from '../decorators/service-definition.js';
import { invalidHealthRequest } from '../errors/framework-errors.js';
import type { CallContext } from './call-context.js';

/** What a server says of itself ('' service) or of one of its services. */
export type HealthStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** The service every Server answers, on every listener: `check` and `watch` (docs/discovery.md, "Health"). */
export const HEALTH_SERVICE = 'SvcHealth';

/** How long a watch waits for a change when it does not say; and the most it may ask for. */
const DEFAULT_WATCH_MS = 30_000;
const MAX_WATCH_MS = 300_000;

export interface HealthCheckRequest {
  /** The service to ask about; '' or absent for the server as a whole. */
  service?: string;
}

export interface HealthWatchRequest extends HealthCheckRequest {
  /** The status the caller knows: the answer comes once the status differs (at once if it already does). */
  last?: HealthStatus;
  /** The longest to wait for a change, ms (default 30 000, at most 300 000); then the status as it is. */
  waitMs?: number;
}

export interface HealthResponse {
  status: HealthStatus;
}

/**
 * The health of one server, as grpc.health.v1 has it: SERVING or NOT_SERVING per service and for
 * the server as a whole (''), set by the server (serving once it listens, not serving from the
 * moment close() begins) and by the application (`server.health.set('Orders', 'NOT_SERVING')`
 * while its database is down). Without streams, `watch` is a long poll: it answers when the
 * status differs from the one the caller knows, or after `waitMs`.
 */
export class Health {
  private readonly statuses = new Map<string, 'SERVING' | 'NOT_SERVING'>();
  private readonly waiters = new Set<() => void>();
  /** The server's services, to tell an unknown one from one without a status of its own. */
  private readonly known: (service: string) => boolean;
  private closed = false;

  constructor(known: (service: string) => boolean) {
    this.known = known;
    this.statuses.set('', 'NOT_SERVING');
  }

  /** The status of a service ('' for the server), SERVICE_UNKNOWN for one the server does not have. */
  get(service = ''): HealthStatus {
    const status = this.statuses.get(service);
    if (status !== undefined) return status;
    // A registered service follows the server until the application sets it.
    return this.known(service) ? this.statuses.get('')! : 'SERVICE_UNKNOWN';
  }

  /** Sets the status of a service, or of the server (''); watchers are told. */
  set(service: string, status: 'SERVING' | 'NOT_SERVING'): void {
    if (this.closed || this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const wake of [...this.waiters]) wake();
  }

  /**
   * The server is closing: everything is NOT_SERVING from now on, and every watch answers at once
   * (also one that knew NOT_SERVING already), so that no watch holds up the drain.
   */
  close(): void {
    this.closed = true;
    for (const service of this.statuses.keys()) this.statuses.set(service, 'NOT_SERVING');
    for (const wake of [...this.waiters]) wake();
  }

  /** @internal The `check` method. */
  check(request: unknown): HealthResponse {
    return { status: this.get(serviceOf(request)) };
  }

  /** @internal The `watch` method: resolves with the status once it differs from `last`, or after `waitMs`. */
  watch(request: unknown, ctx: CallContext): Promise<HealthResponse> {
    const service = serviceOf(request);
    const { last, waitMs } = (request ?? {}) as HealthWatchRequest;
    if (last !== undefined && last !== 'SERVING' && last !== 'NOT_SERVING' && last !== 'SERVICE_UNKNOWN') throw invalidHealthRequest(`last must be SERVING, NOT_SERVING or SERVICE_UNKNOWN, not ${JSON.stringify(last)}`);
    if (waitMs !== undefined && !(typeof waitMs === 'number' && waitMs >= 0)) throw invalidHealthRequest(`waitMs must be a number of milliseconds, 0 or more, not ${JSON.stringify(waitMs)}`);
    const now = this.get(service);
    if (last === undefined || now !== last || this.closed) return Promise.resolve({ status: now });
    return new Promise((resolve) => {
      const done = (): void => {
        this.waiters.delete(check);
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', done);
        resolve({ status: this.get(service) });
      };
      const check = (): void => {
        if (this.closed || this.get(service) !== last) done();
      };
      const timer = setTimeout(done, Math.min(waitMs ?? DEFAULT_WATCH_MS, MAX_WATCH_MS));
      // A cancelled or timed-out watch leaves nothing behind (its answer goes nowhere).
      ctx.signal.addEventListener('abort', done);
      this.waiters.add(check);
    });
  }

  /** Watches waiting now (for tests of the bound). */
  get watching(): number {
    return this.waiters.size;
  }
}

function serviceOf(request: unknown): string {
  const service = (request ?? {}) as HealthCheckRequest;
  if (typeof service !== 'object') throw invalidHealthRequest(`the request must be an object { service?: string }, not ${JSON.stringify(request)}`);
  if (service.service !== undefined && typeof service.service !== 'string') throw invalidHealthRequest(`service must be a string, not ${JSON.stringify(service.service)}`);
  return service.service ?? '';
}

const method = (name: string): MethodDefinition => ({ name, property: name, options: { idempotent: true } });

/** The definition of HEALTH_SERVICE, for the server's method table. */
export const HEALTH_DEFINITION: ServiceDefinition = Object.freeze({
  name: HEALTH_SERVICE,
  options: Object.freeze({ version: '1.0.0', description: 'Health checks of an @svc server' }),
  methods: new Map([
    ['check', method('check')],
    ['watch', method('watch')],
  ]),
});
