/**
 * Plain nats.js: the server subscribes to a subject and answers each message; the client calls
 * `request()`, which nats.js multiplexes over one inbox subscription per connection.
 */
import { connect } from 'nats';
import type { EchoMessage } from '../message.js';
import type { RowImpl } from '../row.js';

const SUBJECT = 'bench.echo';

export const row: RowImpl = {
  async server(env) {
    const nc = await connect({ servers: env.natsUrl! });
    nc.subscribe(SUBJECT, {
      callback: (error, msg) => {
        if (error) return;
        const request = JSON.parse(Buffer.from(msg.data).toString()) as EchoMessage;
        msg.respond(Buffer.from(JSON.stringify(request)));
      },
    });
    await nc.flush();
    return { address: SUBJECT, close: () => nc.drain() };
  },

  async client(env) {
    const nc = await connect({ servers: env.natsUrl! });
    return {
      call: async (message) => {
        const reply = await nc.request(env.address, Buffer.from(JSON.stringify(message)), { timeout: 30_000 });
        return JSON.parse(Buffer.from(reply.data).toString());
      },
      close: () => nc.drain(),
    };
  },
};
