import { errors } from '@svc/core/transport';
import type { ServiceInstance, ServiceNode } from '@svc/core';

/**
 * What an instance writes under `<prefix>/<service>/<instance>`, as JSON:
 * `{ "service", "instance", "address", "version", "weight", "tags", "started" }`.
 */
export interface EtcdRecord {
  readonly service: string;
  readonly instance: string;
  readonly address: string;
  readonly version?: string;
  readonly weight?: number;
  readonly tags?: Readonly<Record<string, string>>;
  /** ISO time of the registration. */
  readonly started: string;
}

export function servicePrefix(prefix: string, service: string): string {
  return `${prefix}/${service}/`;
}

/** A name that can be one key segment: not empty, no '/', not too long. */
export function isSegment(name: string): boolean {
  return typeof name === 'string' && name !== '' && name.length <= 256 && !name.includes('/');
}

/** The key and value an instance registers, or invalidRegistration when its names cannot be key segments. */
export function recordOf(prefix: string, instance: ServiceInstance, started: string): [key: string, value: string] {
  for (const [what, name] of [['service', instance.service], ['instance', instance.instance]] as const) {
    if (!isSegment(name)) throw errors.invalidRegistration(`the ${what} name '${name}' cannot be an etcd key segment (1 to 256 characters, no '/')`);
  }
  const record: EtcdRecord = {
    service: instance.service,
    instance: instance.instance,
    address: instance.address,
    version: instance.version,
    weight: instance.weight,
    tags: instance.tags,
    started,
  };
  return [`${servicePrefix(prefix, instance.service)}${instance.instance}`, JSON.stringify(record)];
}

/**
 * The node a key and value of a service's prefix describe, or undefined when they do not: anyone
 * who may write the prefix can write anything, and one bad value must not break lookups. The key
 * must be one segment below the service's prefix, the value JSON of at most `maxBytes` with a
 * non-empty string address; version, weight and tags, when present, of their types; a `service`
 * field, when present, must be the key's. Tags come back in a map without Object.prototype.
 */
export function nodeOf(prefix: string, service: string, key: string, value: Uint8Array, maxBytes: number): ServiceNode | undefined {
  const start = servicePrefix(prefix, service);
  if (!key.startsWith(start) || !isSegment(key.slice(start.length))) return undefined;
  if (value.length > maxBytes) return undefined;
  let r: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(value));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    r = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof r.address !== 'string' || r.address === '') return undefined;
  if (r.service !== undefined && r.service !== service) return undefined;
  if (r.version !== undefined && typeof r.version !== 'string') return undefined;
  if (r.weight !== undefined && (typeof r.weight !== 'number' || !Number.isFinite(r.weight) || r.weight < 0)) return undefined;
  let tags: Record<string, string> | undefined;
  if (r.tags !== undefined) {
    if (typeof r.tags !== 'object' || r.tags === null || Array.isArray(r.tags)) return undefined;
    tags = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(r.tags)) {
      if (typeof v !== 'string') return undefined;
      tags[k] = v;
    }
    Object.freeze(tags);
  }
  const node: { address: string; version?: string; weight?: number; tags?: Readonly<Record<string, string>> } = { address: r.address };
  if (r.version !== undefined) node.version = r.version as string;
  if (r.weight !== undefined) node.weight = r.weight as number;
  if (tags !== undefined) node.tags = tags;
  return Object.freeze(node);
}
