import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type Authenticator, type ConnectionOptions, type TlsOptions } from 'nats';

/**
 * How to reach and authenticate with NATS. Everything here is handed to nats.js as it is; the
 * named fields are the usual ones, `connection` passes any other nats.js option.
 */
export interface NatsSecurityOptions {
  /** Token authentication (`authorization { token: ... }` on the server). */
  token?: string;
  /** User and password authentication. */
  user?: string;
  pass?: string;
  /** NKey authentication: the seed (`SU...`) of the user's NKey. */
  nkeySeed?: string;
  /** Decentralised JWT authentication: path to a `.creds` file (JWT and NKey seed). */
  credentialsFile?: string;
  /** TLS: CA, client certificate and key files, or `{}` to require TLS with the system CAs. */
  tls?: TlsOptions;
}

export interface NatsConnectionOptions extends NatsSecurityOptions {
  /** Connection name shown by the NATS server (`nats server report connections`). */
  name?: string;
  /** Milliseconds between reconnect attempts. Default 500. */
  reconnectTimeWait?: number;
  /** Milliseconds the first connect may take. Default 5000. */
  connectTimeout?: number;
  /**
   * nats.js writes what is published in one tick in one socket write, or as soon as this many
   * bytes are queued. Early writes let the NATS server, and the service behind it, start on the
   * first messages of a burst while the rest are still being encoded, so the processes work at
   * once instead of taking turns. Default 16 KiB (nats.js alone: 32 KiB); Infinity: one write per tick.
   */
  writeBatchBytes?: number;
  /** Any other nats.js ConnectionOptions, passed through; they win over the fields above. */
  connection?: ConnectionOptions;
}

/** The nats.js options for `servers`. */
export function toNatsOptions(servers: string[], options: NatsConnectionOptions): ConnectionOptions {
  const authenticators: Authenticator[] = [];
  if (options.nkeySeed !== undefined) authenticators.push(nkeyAuthenticator(new TextEncoder().encode(options.nkeySeed)));
  if (options.credentialsFile !== undefined) authenticators.push(credsAuthenticator(readFileSync(options.credentialsFile)));
  const out: ConnectionOptions = {
    servers,
    // In the order given (nats.js shuffles them by default): a host lists its own cluster node
    // first and the others after it, to reconnect to when that node goes.
    noRandomize: true,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWait ?? 500,
    reconnectJitter: 100,
    timeout: options.connectTimeout ?? 5000,
  };
  // nats.js honours `pendingLimit` but leaves it out of its ConnectionOptions type.
  (out as { pendingLimit?: number }).pendingLimit = options.writeBatchBytes ?? 16 * 1024;
  if (options.token !== undefined) out.token = options.token;
  if (options.user !== undefined) out.user = options.user;
  if (options.pass !== undefined) out.pass = options.pass;
  if (authenticators.length > 0) out.authenticator = authenticators.length === 1 ? authenticators[0] : authenticators;
  if (options.tls !== undefined) out.tls = options.tls;
  return { ...out, ...options.connection };
}
