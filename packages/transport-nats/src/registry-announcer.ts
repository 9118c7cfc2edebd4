import type { KV, NatsConnection } from 'nats';
import { DEFAULT_BUCKET, openBucket, recordKey, type RegistryRecord } from './registry-record.js';

export interface AnnounceOptions {
  /** KV bucket. Default 'svc_registry'. */
  bucket?: string;
  /** Milliseconds a record lives without a refresh; refreshed every ttl/3. Default 15 000. */
  ttl?: number;
  tags?: Record<string, string>;
  /** Relative share of calls for weighted selectors. Default 1. */
  weight?: number;
}

/**
 * The server side of the KV registry: writes one record per service of a listener, refreshes
 * them every ttl/3 (and at once after a reconnect), and deletes them when the listener drains.
 */
export class RegistryAnnouncer {
  private readonly nc: NatsConnection;
  private readonly records: RegistryRecord[];
  private readonly bucket: string;
  private readonly ttl: number;
  private kv: KV | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(nc: NatsConnection, address: string, instance: string, services: readonly { name: string; version: string }[], options: AnnounceOptions) {
    this.nc = nc;
    this.bucket = options.bucket ?? DEFAULT_BUCKET;
    this.ttl = options.ttl ?? 15_000;
    const started = new Date().toISOString();
    this.records = services.map((s) => ({
      service: s.name,
      version: s.version,
      address,
      instance,
      tags: { ...options.tags },
      weight: options.weight ?? 1,
      ttl: this.ttl,
      started,
    }));
  }

  async start(): Promise<void> {
    this.kv = await openBucket(this.nc, this.bucket);
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => {}), Math.max(50, Math.floor(this.ttl / 3)));
    this.timer.unref();
  }

  /** Writes every record again; called on a timer and after a reconnect. */
  async refresh(): Promise<void> {
    if (this.stopped || this.kv === undefined) return;
    const kv = this.kv;
    await Promise.all(this.records.map((r) => kv.put(recordKey(r.service, r.instance), JSON.stringify(r))));
  }

  /** Stops refreshing and deletes the records, so clients stop choosing this instance. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    const kv = this.kv;
    if (kv === undefined || this.nc.isClosed()) return;
    await Promise.all(this.records.map((r) => kv.delete(recordKey(r.service, r.instance)).catch(() => {})));
  }
}
