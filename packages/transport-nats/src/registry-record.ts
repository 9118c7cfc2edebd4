import type { KV, NatsConnection } from 'nats';

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

export function recordKey(service: string, instance: string): string {
  return `${service}.${instance}`;
}

/** How long the bucket keeps a value no one refreshes; records expire earlier, by their own ttl. */
const BUCKET_MAX_AGE = 10 * 60_000;

/** Opens the bucket, creating it when missing; binds to it as it is when it exists with other limits. */
export async function openBucket(nc: NatsConnection, bucket: string): Promise<KV> {
  const js = nc.jetstream();
  try {
    return await js.views.kv(bucket, { history: 1, ttl: BUCKET_MAX_AGE });
  } catch {
    return await js.views.kv(bucket, { bindOnly: true });
  }
}
