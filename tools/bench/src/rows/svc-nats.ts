/** @svc over NATS, JSON checked against the schema svc-gen made of the Echo service, against the nats-server of this run. */
import { Client, Server, schemaJsonCodec, staticRegistry } from '@svc/core';
import { nats } from '@svc/transport-nats';
import { schemas } from '../generated/index.js';
import type { RowImpl } from '../row.js';
import { Echo } from './svc-echo.js';

export const row: RowImpl = {
  async server(env) {
    const server = new Server({ transport: nats(), codecs: [schemaJsonCodec({ schemas })] }).register(new Echo());
    await server.listen(env.natsUrl!);
    // Clients call the service's queue group on this NATS, not one instance.
    return { address: env.natsUrl!, close: () => server.close({ drainTimeout: 1000 }) };
  },

  async client(env) {
    const client = new Client({ transport: nats(), codecs: [schemaJsonCodec({ schemas })], registry: staticRegistry({ Echo: [env.address] }) });
    return {
      call: (message) => client.invoke('Echo', 'echo', message),
      close: () => client.close(),
    };
  },
};
