/** Moleculer's NATS transporter (nats.js 2.x underneath), against the nats-server of this run. */
import type { RowImpl } from '../row.js';
import { echoClient, echoServer, quietBroker } from './moleculer-common.js';

export const row: RowImpl = {
  server(env) {
    return echoServer(quietBroker('bench-server', env.natsUrl!), env.natsUrl!);
  },

  client(env) {
    return echoClient(quietBroker('bench-client', env.natsUrl!));
  },
};
