/** NestJS microservices with the built-in NATS transport, against the nats-server of this run. */
import { Transport } from '@nestjs/microservices';
import type { RowImpl } from '../row.js';
import { nestClient, nestServer } from './nest-common.js';

export const row: RowImpl = {
  server(env) {
    return nestServer({ transport: Transport.NATS, options: { servers: [env.natsUrl!] } }, env.natsUrl!);
  },

  client(env) {
    return nestClient({ transport: Transport.NATS, options: { servers: [env.natsUrl!] } });
  },
};
