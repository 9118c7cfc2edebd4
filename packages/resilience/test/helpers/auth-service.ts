import { Method, Server, Service, staticRegistry, Client, type CallContext, type Filter } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { principalOf } from '../../src/principal.js';

/** A service whose handlers count their runs, so a test can tell a refused call never reached one. */
export function vault() {
  @Service('Vault')
  class Vault {
    runs = 0;
    @Method()
    async read(): Promise<{ ok: true }> {
      this.runs++;
      return { ok: true };
    }
    @Method({ roles: ['admin', 'ops'] })
    async wipe(): Promise<{ wiped: true }> {
      this.runs++;
      return { wiped: true };
    }
    @Method()
    async whoami(_request: unknown, ctx: CallContext): Promise<{ subject?: string; roles?: readonly string[]; scheme?: string; tenant?: unknown }> {
      this.runs++;
      const principal = principalOf<{ tenant?: string }>(ctx);
      return { subject: principal?.subject, roles: principal?.roles, scheme: principal?.scheme, tenant: principal?.claims.tenant };
    }
    @Method()
    async status(): Promise<{ up: true }> {
      this.runs++;
      return { up: true };
    }
  }
  return new Vault();
}

export type VaultService = ReturnType<typeof vault>;

/** A TCP server with the given server filters, serving a fresh Vault; and clients for it. */
export async function vaultServer(filters: readonly Filter[]) {
  const service = vault();
  const server = new Server({ transport: tcp(), filters });
  server.register(service);
  const address = await server.listen('tcp://127.0.0.1:0');
  const clients: Client[] = [];
  return {
    service,
    address,
    server,
    client(clientFilters: readonly Filter[] = []): Client {
      const client = new Client({ transport: tcp(), registry: staticRegistry({ Vault: [address] }), filters: clientFilters });
      clients.push(client);
      return client;
    },
    async close(): Promise<void> {
      await Promise.all(clients.map((c) => c.close()));
      await server.close();
    },
  };
}

/** The rejection of a promise (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string; progress: string; retryable: boolean }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string; progress: string; retryable: boolean };
  }
  throw new Error('expected the call to fail, it succeeded');
}
