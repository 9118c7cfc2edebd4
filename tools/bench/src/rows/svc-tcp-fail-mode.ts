/**
 * @svc over TCP with protobuf (as svc-tcp-proto) and a fail mode on the client, against healthy
 * servers: what the attempt path costs when nothing fails. failover makes every call go through
 * the fail mode's runner (an Attempt per call); failbackup also hedges the calls slower than the
 * method's p95, so about 5 % of calls are sent twice.
 */
import { Client, protobufCodec, Server, staticRegistry, type FailMode } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { schemas } from '../generated/index.js';
import type { RowImpl } from '../row.js';
import { Echo } from './svc-echo.js';

function failModeRow(failMode: FailMode): RowImpl {
  return {
    async server(env) {
      const server = new Server({ transport: tcp(), codecs: [protobufCodec({ schemas })] }).register(new Echo());
      const address = await server.listen(`tcp://${env.host}:0`);
      return { address, close: () => server.close({ drainTimeout: 1000 }) };
    },

    async client(env) {
      const client = new Client({
        transport: tcp(),
        codecs: [protobufCodec({ schemas })],
        registry: staticRegistry({ Echo: [env.address] }),
        failMode,
        // Echo's @Method() does not say idempotent; echoing is, and hedging needs it.
        services: { Echo: { methods: { echo: { idempotent: true } } } },
      });
      return {
        call: (message) => client.invoke('Echo', 'echo', message),
        close: () => client.close(),
      };
    },
  };
}

export const failoverRow = failModeRow('failover');
export const failbackupRow = failModeRow('failbackup');
