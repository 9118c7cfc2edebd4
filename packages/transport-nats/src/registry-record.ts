import type { KV, NatsConnection } from 'nats';
import { parseAddress } from './address.js';

/** Default KV bucket of the registry. */
export const DEFAULT_BUCKET = 'svc_registry';

/**
 * What one instance of one service writes under `<Service>.<instance>` in the registry bucket.
 * `ttl` travels with it: readers drop a record that has not been refreshed within its ttl, so an
 * instance that dies without deregistering disappears (the bucket's max age only collects garbage).
 */
export interface RegistryRecord {
  service: string;
  version: string;
  /** The instance's own address, `nats://host:port?instance=<id>`. */
  address: string;
  instance: string;
  tags: Record<string, string>;
  weight: number;
  /** Milliseconds after the last refresh before readers drop it. */
  ttl: number;
  /** ISO time the instance started serving. */
  started: string;
}

/**
 * A record as read from the bucket, or undefined when it is not one: anyone who may write the
 * bucket can put anything there, and one malformed value must not break lookups of every service
 * (nor linger unexpired). Tags come back in a map without Object.prototype.
 */
export function readRecord(value: unknown): RegistryRecord | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const r = value as Record<string, unknown>;
  for (const field of ['service', 'version', 'address', 'instance', 'started'] as const) if (typeof r[field] !== 'string') return undefined;
  if (typeof r.weight !== 'number' || !(r.weight >= 0) || !Number.isFinite(r.weight)) return undefined;
  if (typeof r.ttl !== 'number' || !(r.ttl > 0) || !Number.isFinite(r.ttl)) return undefined;
  if (typeof r.tags !== 'object' || r.tags === null || Array.isArray(r.tags)) return undefined;
  const tags = Object.create(null) as Record<string, string>;
  for (const [key, tag] of Object.entries(r.tags)) {
    if (typeof tag !== 'string') return undefined;
    tags[key] = tag;
  }
  try {
    parseAddress(r.address as string);
  } catch {
    return undefined;
  }
  return { service: r.service as string, version: r.version as string, address: r.address as string, instance: r.instance as string, tags, weight: r.weight, ttl: r.ttl, started: r.started as string };
}

/** A record is a few hundred bytes; a value above this is not one (and is not parsed). */
export const MAX_RECORD_BYTES = 4 * 1024;

/** A KV value as a record and its text, or undefined when it is not one (not UTF-8 JSON, not a record). */
export function readEntry(value: Uint8Array): { record: RegistryRecord; raw: string } | undefined {
  if (value.length > MAX_RECORD_BYTES) return undefined;
  let raw: string;
  let parsed: unknown;
  try {
    raw = new TextDecoder('utf-8', { fatal: true }).decode(value);
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const record = readRecord(parsed);
  return record === undefined ? undefined : { record, raw };
}

export function recordKey(service: string, instance: string): string {
  return `${service}.${instance}`;
}

/** How long the bucket keeps a value no one refreshes; records expire earlier, by their own ttl. */
const BUCKET_MAX_AGE = 10 * 60_000;

/** Opens the bucket, creating it when missing; binds to it as it is when it exists with other limits. */
/** Opens the registry bucket, creating it (with `replicas` copies) when it does not exist yet. */
export async function openBucket(nc: NatsConnection, bucket: string, replicas = 1): Promise<KV> {
  const js = nc.jetstream();
  try {
    return await js.views.kv(bucket, { history: 1, ttl: BUCKET_MAX_AGE, replicas });
  } catch {
    return await js.views.kv(bucket, { bindOnly: true });
  }
}
