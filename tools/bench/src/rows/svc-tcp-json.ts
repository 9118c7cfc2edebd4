/** @svc over its own TCP transport, JSON codec: the row the targets are about. */
import { Client, Server, staticRegistry, type Transport } from '@svc/core';
import type { RowImpl } from '../row.js';
import { Echo } from './svc-echo.js';

interface TcpTransportModule {
  tcp(options?: object): Transport;
}

// Loaded by name at run time: the row compiles before @svc/transport-tcp exists, and the
// registry (index.ts) skips it until the package resolves and is built.
const TCP_PACKAGE = '@svc/transport-tcp';
const loadTcp = (): Promise<TcpTransportModule> => import(TCP_PACKAGE) as Promise<TcpTransportModule>;

export const row: RowImpl = {
  async server(env) {
    const { tcp } = await loadTcp();
    const server = new Server({ transport: tcp() }).register(new Echo());
    const address = await server.listen(`tcp://${env.host}:0`);
    return { address, close: () => server.close({ drainTimeout: 1000 }) };
  },

  async client(env) {
    const { tcp } = await loadTcp();
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [env.address] }) });
    return {
      call: (message) => client.invoke('Echo', 'echo', message),
      close: () => client.close(),
    };
  },
};
