import type { CallOptions } from './client.js';
import { HEALTH_SERVICE, type HealthResponse, type HealthStatus } from '../server/health.js';

/** What checkHealth needs of a Client. */
interface Invoker {
  invoke<Res>(service: string, method: string, request: unknown, options?: CallOptions<Res>): Promise<Res>;
}

/**
 * Asks the server at `address` how it is (`service` '' or absent) or how one of its services is:
 * SERVING, NOT_SERVING or SERVICE_UNKNOWN. A server that does not answer rejects (UNAVAILABLE,
 * DEADLINE_EXCEEDED after `timeout`, default 2 000 ms). The check passes no server filter.
 */
export async function checkHealth(client: Invoker, address: string, service = '', options: { timeout?: number } = {}): Promise<HealthStatus> {
  const answer = await client.invoke<HealthResponse>(HEALTH_SERVICE, 'check', { service }, { address, timeout: options.timeout ?? 2_000 });
  return answer.status;
}
