/** NestJS microservices with the built-in TCP transport (one client connection). */
import { Transport } from '@nestjs/microservices';
import type { RowImpl } from '../row.js';
import { nestClient, nestServer } from './nest-common.js';

export const row: RowImpl = {
  server(env) {
    return nestServer({ transport: Transport.TCP, options: { host: env.host, port: env.port } }, `${env.host}:${env.port}`);
  },

  client(env) {
    const [host, port] = env.address.split(':');
    return nestClient({ transport: Transport.TCP, options: { host: host!, port: Number(port) } });
  },
};
