import type { KV, NatsConnection } from 'nats';
import { DEFAULT_BUCKET, openBucket, recordKey, type RegistryRecord } from './registry-record.js';

export interface AnnounceOptions {
  /** KV bucket. Default 'svc_registry'. */
  bucket?: string;
  /**
   * Copies of the bucket a JetStream cluster keeps (1–5), used when this process is the one that
   * creates it. Default 1: the registry then lives on one node, and while that node is down longer
   * than the records' ttl every instance drops out. Use 3 on a 3-node cluster (docs/deployment.md).
   */
  replicas?: number;
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
  private readonly replicas: number | undefined;
  private readonly ttl: number;
  private kv: KV | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(nc: NatsConnection, address: string, instance: string, services: readonly { name: string; version: string }[], options: AnnounceOptions);
  /** Records made elsewhere (natsRegistrar: any server's instances, a TCP listener's too). */
  constructor(nc: NatsConnection, records: readonly RegistryRecord[], options: AnnounceOptions);
  constructor(nc: NatsConnection, ...args: [string, string, readonly { name: string; version: string }[], AnnounceOptions] | [readonly RegistryRecord[], AnnounceOptions]) {
    this.nc = nc;
    const options = args.length === 2 ? args[1] : args[3];
    this.bucket = options.bucket ?? DEFAULT_BUCKET;
    this.replicas = options.replicas;
    this.ttl = options.ttl ?? 15_000;
    if (args.length === 2) {
      this.records = args[0].map((r) => ({ ...r, ttl: this.ttl }));
      return;
    }
    const [address, instance, services] = args;
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
    this.kv = await openBucket(this.nc, this.bucket, this.replicas);
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
