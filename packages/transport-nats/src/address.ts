import { errors } from '@svc/core/transport';

/**
 * NATS addresses: `nats://host:port` (several servers: `nats://a:4222,nats://b:4222` or
 * `nats://a:4222,b:4222`), with an optional `?instance=<id>` that names one server instance.
 *
 * - listen('nats://127.0.0.1:4222') connects to that NATS server and serves the Server's services;
 *   the listener's address is `nats://127.0.0.1:4222?instance=<id>`.
 * - A client channel to `nats://127.0.0.1:4222` sends each call to the queue group of its service
 *   (any instance); to `nats://127.0.0.1:4222?instance=<id>` only to that instance.
 */
export interface NatsAddress {
  /** Server URLs as nats.js takes them. */
  readonly servers: string[];
  /** The servers part, normalised: the key of the shared connection. */
  readonly key: string;
  readonly instance: string | undefined;
}

export function parseAddress(address: string): NatsAddress {
  let rest = address.startsWith('nats://') ? address.slice('nats://'.length) : address;
  let instance: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    const params = new URLSearchParams(rest.slice(q + 1));
    instance = params.get('instance') ?? undefined;
    rest = rest.slice(0, q);
  }
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  const servers = rest
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (s.includes('://') ? s : `nats://${s}`));
  if (servers.length === 0) throw errors.invalidAddress(address, 'names no NATS server; write it like nats://127.0.0.1:4222');
  return { servers, key: servers.join(','), instance };
}

export function formatAddress(servers: readonly string[], instance?: string): string {
  const hosts = servers.map((s) => s.replace(/^nats:\/\//, '')).join(',');
  return instance === undefined ? `nats://${hosts}` : `nats://${hosts}?instance=${instance}`;
}
