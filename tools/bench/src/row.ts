import type { EchoMessage } from './message.js';

/** What the runner hands a row's server side. */
export interface ServerEnv {
  readonly host: string;
  /** A free port picked by the runner (rows that can bind port 0 themselves may ignore it). */
  readonly port: number;
  /** Set for rows with `broker: 'nats'`: the URL of the nats-server started for this run. */
  readonly natsUrl: string | undefined;
}

/** What the runner hands a row's client side. */
export interface ClientEnv {
  /** The address the server side reported. */
  readonly address: string;
  readonly natsUrl: string | undefined;
  readonly concurrency: number;
}

export interface ServerHandle {
  /** Where clients reach it (host:port, a URL, or a subject on the broker). */
  readonly address: string;
  close(): Promise<void>;
}

export interface ClientHandle {
  /** One unary call; resolves with the echoed message as the peer decoded it. */
  call(message: EchoMessage): Promise<unknown>;
  close(): Promise<void>;
}

/** One benchmark row: a server and a client, each run in its own process by worker.ts. */
export interface RowImpl {
  server(env: ServerEnv): Promise<ServerHandle>;
  client(env: ClientEnv): Promise<ClientHandle>;
}

/** A row as the registry lists it: metadata here, the implementation loaded only in the workers. */
export interface RowSpec {
  readonly id: string;
  readonly title: string;
  /** Rows of the same kind share a colour in the chart. */
  readonly kind: 'svc' | 'peer' | 'ceiling';
  /** A broker the runner starts for the row (and stops by pid afterwards). */
  readonly broker?: 'nats';
  /**
   * Why the row cannot run yet (a package that is missing), or undefined when it can. Checked
   * in the runner before any process is spawned.
   */
  readonly unavailable?: () => string | undefined;
  readonly load: () => Promise<RowImpl>;
}
