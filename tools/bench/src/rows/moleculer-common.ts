/** What the two Moleculer rows share: quiet brokers and the echo service. */
import moleculer from 'moleculer';
import type { EchoMessage } from '../message.js';
import type { ClientHandle, ServerHandle } from '../row.js';

export type BrokerOptions = moleculer.BrokerOptions;

/** Logging, metrics and tracing off: the row measures calls, not log lines. */
export function quietBroker(nodeID: string, transporter: moleculer.BrokerOptions['transporter']): moleculer.ServiceBroker {
  return new moleculer.ServiceBroker({
    nodeID,
    namespace: 'bench',
    transporter,
    logger: false,
    metrics: false,
    tracing: false,
    requestTimeout: 30_000,
  });
}

export async function echoServer(broker: moleculer.ServiceBroker, address: string): Promise<ServerHandle> {
  broker.createService({
    name: 'echo',
    actions: {
      echo: (ctx: moleculer.Context<EchoMessage>) => ctx.params,
    },
  });
  await broker.start();
  return { address, close: () => broker.stop() };
}

export async function echoClient(broker: moleculer.ServiceBroker): Promise<ClientHandle> {
  await broker.start();
  await broker.waitForServices('echo', 10_000, 20);
  return {
    call: (message) => broker.call('echo.echo', message),
    close: () => broker.stop(),
  };
}
