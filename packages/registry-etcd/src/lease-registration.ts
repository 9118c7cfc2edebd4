import type { Etcd3, Lease } from 'etcd3';
import type { Logger, Registration } from '@svc/core';

/**
 * One listener's instances in etcd, under one lease kept alive by etcd3 (a keep-alive every
 * ttl/3). When the lease is lost (etcd was away longer than it lives, or it was revoked behind our
 * back) it registers again under a new lease, with backoff, until it succeeds or is deregistered.
 */
export class LeaseRegistration implements Registration {
  private readonly etcd: Etcd3;
  private readonly entries: readonly (readonly [string, string])[];
  private readonly ttlSeconds: number;
  private readonly callTimeout: number;
  private readonly logger: Logger;
  private readonly onEnd: () => void;
  private lease: Lease | undefined = undefined;
  private retryTimer: NodeJS.Timeout | undefined = undefined;
  private stopped = false;
  private done: Promise<void> | undefined = undefined;

  constructor(etcd: Etcd3, entries: readonly (readonly [string, string])[], ttlSeconds: number, callTimeout: number, logger: Logger, onEnd: () => void) {
    this.etcd = etcd;
    this.entries = entries;
    this.ttlSeconds = ttlSeconds;
    this.callTimeout = callTimeout;
    this.logger = logger;
    this.onEnd = onEnd;
  }

  /** What it registers, for messages: the first key and how many more. */
  private get what(): string {
    const first = this.entries[0]?.[0] ?? '(nothing)';
    return this.entries.length > 1 ? `${first} and ${this.entries.length - 1} more` : first;
  }

  /** The first registration: rejects when etcd cannot grant the lease or take the keys. */
  async start(): Promise<void> {
    await this.grantAndPut();
  }

  deregister(): Promise<void> {
    this.done ??= this.revoke();
    return this.done;
  }

  private async revoke(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.onEnd();
    const lease = this.lease;
    this.lease = undefined;
    // revoke() stops the keep-alives first, whatever etcd answers; the keys go with the lease
    // (or when it expires, if etcd cannot be told now).
    await lease?.revoke({ deadline: Date.now() + this.callTimeout });
  }

  private async grantAndPut(): Promise<void> {
    const lease = this.etcd.lease(this.ttlSeconds, { autoKeepAlive: true });
    // A failed grant also says 'lost': only the lease in use is of interest.
    lease.on('lost', (error) => this.lost(lease, error));
    try {
      await lease.grant();
      await Promise.all(this.entries.map(([key, value]) => lease.put(key).value(value).options({ deadline: Date.now() + this.callTimeout })));
    } catch (error) {
      lease.release();
      void lease.revoke().catch(() => {});
      throw error;
    }
    if (this.stopped) {
      await lease.revoke().catch(() => {});
      return;
    }
    this.lease = lease;
  }

  private lost(lease: Lease, error: Error): void {
    if (lease !== this.lease || this.stopped) return;
    this.lease = undefined;
    this.logger.warn(`etcd registry: the lease of ${this.what} was lost (${error?.message ?? String(error)}); registering again`);
    this.renew(0);
  }

  private renew(failures: number): void {
    if (this.stopped) return;
    const delay = failures === 0 ? 0 : Math.min(5_000, 100 * 2 ** failures) * (0.5 + Math.random() / 2);
    this.retryTimer = setTimeout(() => {
      this.grantAndPut().then(
        () => {
          if (!this.stopped) this.logger.info(`etcd registry: ${this.what} registered again`);
        },
        () => this.renew(failures + 1),
      );
    }, delay);
    this.retryTimer.unref();
  }
}
