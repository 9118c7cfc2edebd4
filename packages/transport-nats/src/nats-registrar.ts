import { errors } from '@svc/core/transport';
import type { Registrar, Registration, ServiceInstance } from '@svc/core';
import { parseAddress } from './address.js';
import type { NatsConnectionOptions } from './connection-options.js';
import { registryUnavailable } from './nats-errors.js';
import { RegistryAnnouncer } from './registry-announcer.js';
import type { RegistryRecord } from './registry-record.js';
import { ConnectionPool } from './shared-connection.js';

export interface NatsRegistrarOptions extends NatsConnectionOptions {
  /** The NATS servers that hold the registry bucket, e.g. 'nats://127.0.0.1:4222'. */
  servers: string | string[];
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
}

export interface NatsRegistrar extends Registrar {
  /** Deregisters what is still registered and closes the connection. */
  close(): Promise<void>;
}

/** Letters, digits, '-' and '_': a KV key token (`<Service>.<instance>`). */
const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * The KV registry's announcing as a Registrar, for servers on any transport: `new Server({
 * transport: tcp(), registrar: natsRegistrar({ servers }) })` writes each listener's records in the
 * bucket, refreshes them every ttl/3 (and after a reconnect) and deletes them at close, as a NATS
 * listener with `announce` does for itself.
 */
export function natsRegistrar(options: NatsRegistrarOptions): NatsRegistrar {
  const servers = parseAddress(Array.isArray(options.servers) ? options.servers.join(',') : options.servers).servers;
  const pool = new ConnectionPool(options);
  const open = new Set<Registration>();
  return {
    async register(instances: readonly ServiceInstance[]): Promise<Registration> {
      for (const i of instances) {
        if (!TOKEN.test(i.service) || !TOKEN.test(i.instance)) throw errors.invalidRegistration(`service '${i.service}', instance '${i.instance}': NATS KV keys take letters, digits, '-' and '_' only`);
      }
      const shared = pool.acquire(servers.join(','), servers);
      let announcer: RegistryAnnouncer;
      try {
        const nc = await shared.ready;
        const started = new Date().toISOString();
        const records: RegistryRecord[] = instances.map((i) => ({
          service: i.service,
          version: i.version ?? '0.0.0',
          address: i.address,
          instance: i.instance,
          tags: { ...i.tags },
          weight: i.weight ?? 1,
          ttl: 0, // the announcer's
          started,
        }));
        announcer = new RegistryAnnouncer(nc, records, { bucket: options.bucket, ttl: options.ttl, replicas: options.replicas });
        await announcer.start();
      } catch (error) {
        await pool.release(shared);
        throw registryUnavailable((error as Error)?.message ?? String(error));
      }
      const off = shared.on((event) => {
        if (event === 'up') void announcer.refresh().catch(() => {});
      });
      let done: Promise<void> | undefined;
      const registration: Registration = {
        deregister: () =>
          (done ??= (async () => {
            open.delete(registration);
            off();
            try {
              await announcer.stop();
            } finally {
              await pool.release(shared);
            }
          })()),
      };
      open.add(registration);
      return registration;
    },
    async close() {
      await Promise.all([...open].map((r) => r.deregister().catch(() => {})));
    },
  };
}
