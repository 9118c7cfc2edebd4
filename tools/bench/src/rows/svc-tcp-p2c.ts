/**
 * @svc over TCP with protobuf (as svc-tcp-proto), three servers behind P2C over peak EWMA
 * (`peakEwma()`, the recommended selector for clusters): what balancing costs against the one
 * server of svc-tcp-proto. The three Servers listen in the one server process, so they share its
 * core as svc-tcp-proto's one does: the row measures the selector (a runner and an attempt per
 * call, two costs compared per select) and three connections, not three machines.
 */
import { Client, peakEwma, protobufCodec, Server, staticRegistry } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { schemas } from '../generated/index.js';
import type { RowImpl } from '../row.js';
import { Echo } from './svc-echo.js';

const SERVERS = 3;

export const row: RowImpl = {
  async server(env) {
    const servers = Array.from({ length: SERVERS }, () => new Server({ transport: tcp(), codecs: [protobufCodec({ schemas })] }).register(new Echo()));
    const addresses = await Promise.all(servers.map((s) => s.listen(`tcp://${env.host}:0`)));
    // One address string for the runner; the client splits it.
    return { address: addresses.join(','), close: async () => void (await Promise.all(servers.map((s) => s.close({ drainTimeout: 1000 })))) };
  },

  async client(env) {
    const client = new Client({
      transport: tcp(),
      codecs: [protobufCodec({ schemas })],
      registry: staticRegistry({ Echo: env.address.split(',') }),
      selector: peakEwma(),
    });
    return {
      call: (message) => client.invoke('Echo', 'echo', message),
      close: () => client.close(),
    };
  },
};
