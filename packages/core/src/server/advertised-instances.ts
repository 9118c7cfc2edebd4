import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { ServiceDefinition } from '../decorators/service-definition.js';
import type { ServiceInstance } from './registrar.js';

/** What a server registers besides its listener's address (ServerOptions). */
export interface AdvertiseOptions {
  readonly advertiseHost?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly weight?: number;
}

/** A listener's address on a wildcard host: `tcp://0.0.0.0:8972`, `tcp://[::]:8972`. */
const WILDCARD = /^([a-z][a-z0-9+.-]*:\/\/)(0\.0\.0\.0|\[::\]|\[::0\]|::)(:.*)?$/i;

/**
 * The address clients should dial for a listener bound to `bound`: `advertise` when given, else
 * the bound address, with a wildcard host (0.0.0.0, ::) replaced by `advertiseHost` or, without
 * one, this host's first external IPv4 address (loopback when it has none).
 */
export function advertisedAddress(bound: string, advertise: string | undefined, options: AdvertiseOptions): string {
  if (advertise !== undefined) return advertise;
  const match = WILDCARD.exec(bound);
  if (match === null) return bound;
  const host = options.advertiseHost ?? externalIPv4() ?? '127.0.0.1';
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${match[1]}${shown}${match[3] ?? ''}`;
}

/** One instance per service of a listener, all under one instance id. */
export function instancesOf(address: string, services: readonly ServiceDefinition[], options: AdvertiseOptions): ServiceInstance[] {
  // Letters and digits only: every backend's keys can hold it (NATS subject tokens, etcd paths).
  const instance = randomBytes(8).toString('hex');
  const tags = options.tags === undefined ? undefined : Object.freeze({ ...options.tags });
  return services.map((s) => ({
    service: s.name,
    instance,
    address,
    version: s.options.version ?? '0.0.0',
    weight: options.weight ?? 1,
    tags: tags ?? {},
  }));
}

function externalIPv4(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}
