/** @svc over its own TCP transport, JSON checked against the schema svc-gen made of the Echo service. */
import { Client, Server, schemaJsonCodec, staticRegistry } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { schemas } from '../generated/index.js';
import type { RowImpl } from '../row.js';
import { Echo } from './svc-echo.js';

export const row: RowImpl = {
  async server(env) {
    const server = new Server({ transport: tcp(), codecs: [schemaJsonCodec({ schemas })] }).register(new Echo());
    const address = await server.listen(`tcp://${env.host}:0`);
    return { address, close: () => server.close({ drainTimeout: 1000 }) };
  },

  async client(env) {
    const client = new Client({ transport: tcp(), codecs: [schemaJsonCodec({ schemas })], registry: staticRegistry({ Echo: [env.address] }) });
    return {
      call: (message) => client.invoke('Echo', 'echo', message),
      close: () => client.close(),
    };
  },
};
