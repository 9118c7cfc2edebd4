// The shop: Shop and Inventory over TCP, with telemetry. Spans go where the OTEL_* variables say
// (OTLP over HTTP by default); metrics to a Prometheus endpoint. Usage: node dist/server.js [address]
import { Client, Server, type Registry, type ServiceNode } from '@svc/core';
import { pinoLogger, startTelemetry } from '@svc/telemetry';
import { tcp } from '@svc/transport-tcp';
import { Inventory, Shop } from './shop.js';

const telemetry = await startTelemetry({ serviceName: 'shop', serviceVersion: '0.1.0', prometheus: { host: '127.0.0.1', port: 0 } });
const logger = pinoLogger({ base: { service: 'shop' } });

// The shop calls its own Inventory through a client, as it would call another service; the
// registry answers with this server's address once it is bound.
let nodes: readonly ServiceNode[] = [];
const registry: Registry = { lookup: () => nodes };
const inventory = new Client({ transport: tcp(), registry, ...telemetry.clientFilters() });

const server = new Server({ transport: telemetry.observeTransport(tcp()), filters: telemetry.serverFilters(), logger });
server.register(new Inventory()).register(new Shop(inventory, logger));
const address = await server.listen(process.argv[2] ?? 'tcp://127.0.0.1:0');
nodes = [{ address }];
// One JSON line for the demo, which needs the bound port and where the metrics are.
console.log(JSON.stringify({ listening: address, metrics: telemetry.prometheusUrl }));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void (async () => {
      await server.close();
      await inventory.close();
      await telemetry.shutdown(); // flushes the spans still batched
      process.exit(0);
    })();
  });
}
