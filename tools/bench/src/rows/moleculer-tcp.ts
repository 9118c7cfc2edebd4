/**
 * Moleculer's TCP transporter: no UDP discovery, the client is told the server's endpoint and
 * the two gossip from there (every second rather than two, to start sooner). Both nodes are
 * reached at 127.0.0.1 only.
 */
import type moleculer from 'moleculer';
import type { RowImpl } from '../row.js';
import { echoClient, echoServer, quietBroker } from './moleculer-common.js';

const SERVER_NODE = 'bench-server';

/** Moleculer picks a node's first external interface address; everything here is on loopback. */
function onLoopback(broker: moleculer.ServiceBroker): moleculer.ServiceBroker {
  const tx = (broker.transit as unknown as { tx: { getNodeAddress(node: unknown): string } }).tx;
  tx.getNodeAddress = () => '127.0.0.1';
  return broker;
}

export const row: RowImpl = {
  server(env) {
    const broker = quietBroker(SERVER_NODE, { type: 'TCP', options: { udpDiscovery: false, port: env.port, gossipPeriod: 1 } });
    return echoServer(onLoopback(broker), `${env.host}:${env.port}`);
  },

  client(env) {
    const broker = quietBroker('bench-client', { type: 'TCP', options: { udpDiscovery: false, gossipPeriod: 1, port: 0, urls: [`${env.address}/${SERVER_NODE}`] } });
    return echoClient(onLoopback(broker));
  },
};
