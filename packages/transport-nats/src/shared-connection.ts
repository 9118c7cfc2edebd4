import { connect, Events, type NatsConnection } from 'nats';
import { toNatsOptions, type NatsConnectionOptions } from './connection-options.js';

export type ConnectionEvent = 'down' | 'up' | 'closed';

/** What the NATS server refused this connection (a permissions violation; the connection stays up). */
export interface Refusal {
  readonly operation: 'publish' | 'subscription';
  readonly subject: string;
}

/**
 * One NATS connection shared by every channel and listener of a transport that talks to the same
 * servers. It connects once, reconnects by itself (nats.js restores subscriptions), and tells its
 * users when it goes down and comes back, so that calls waiting for replies fail at once instead
 * of waiting for their deadline.
 */
export class SharedConnection {
  readonly key: string;
  readonly ready: Promise<NatsConnection>;
  nc: NatsConnection | undefined = undefined;
  /** True while the socket to a NATS server is up. */
  connected = false;
  failed: Error | undefined = undefined;
  refs = 0;
  private readonly watchers = new Set<(event: ConnectionEvent) => void>();
  private readonly refusalWatchers = new Set<(refusal: Refusal) => void>();

  constructor(key: string, servers: string[], options: NatsConnectionOptions) {
    this.key = key;
    this.ready = connect(toNatsOptions(servers, options)).then(
      (nc) => {
        this.nc = nc;
        this.connected = true;
        void this.watch(nc);
        return nc;
      },
      (error: Error) => {
        this.failed = error;
        throw error;
      },
    );
    // A failed first connect is reported to whoever awaits `ready`; keep Node quiet otherwise.
    this.ready.catch(() => {});
  }

  on(watcher: (event: ConnectionEvent) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** Tells `watcher` of every permissions violation the NATS server reports. */
  onRefusal(watcher: (refusal: Refusal) => void): () => void {
    this.refusalWatchers.add(watcher);
    return () => this.refusalWatchers.delete(watcher);
  }

  private emit(event: ConnectionEvent): void {
    for (const watcher of [...this.watchers]) watcher(event);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    void nc.closed().then(() => {
      this.connected = false;
      this.emit('closed');
    });
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect) {
        this.connected = false;
        this.emit('down');
      } else if (status.type === Events.Reconnect) {
        this.connected = true;
        this.emit('up');
      } else if (status.type === Events.Error && status.permissionContext !== undefined) {
        const refusal: Refusal = { operation: status.permissionContext.operation as Refusal['operation'], subject: status.permissionContext.subject };
        for (const watcher of [...this.refusalWatchers]) watcher(refusal);
      }
    }
  }
}

/** Connections by server list, counted so the last user closes it. */
export class ConnectionPool {
  private readonly options: NatsConnectionOptions;
  private readonly connections = new Map<string, SharedConnection>();

  constructor(options: NatsConnectionOptions) {
    this.options = options;
  }

  acquire(key: string, servers: string[]): SharedConnection {
    let shared = this.connections.get(key);
    if (shared === undefined || shared.failed !== undefined || shared.nc?.isClosed()) {
      shared = new SharedConnection(key, servers, this.options);
      this.connections.set(key, shared);
    }
    shared.refs++;
    return shared;
  }

  /** Drops one reference; the last one flushes what is queued and closes the connection. */
  async release(shared: SharedConnection): Promise<void> {
    if (--shared.refs > 0) return;
    if (this.connections.get(shared.key) === shared) this.connections.delete(shared.key);
    const nc = await shared.ready.catch(() => undefined);
    if (nc === undefined || nc.isClosed()) return;
    if (shared.connected) await nc.flush().catch(() => {});
    await nc.close();
  }
}
