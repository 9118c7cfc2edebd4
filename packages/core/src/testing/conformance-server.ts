import { Server } from '../server/server.js';
import { silentLogger } from '../logger.js';
import { ConformanceService } from './conformance-service.js';
import type { ConformanceTarget } from './conformance.js';

/** A server of the ConformanceService on a fresh target, for suites that make their own clients or channels. */
export interface ConformanceServer {
  target: ConformanceTarget;
  server: Server;
  service: ConformanceService;
  /** The address listen() returned. */
  address: string;
  stop(): Promise<void>;
}

export async function startConformanceServer(setup: () => Promise<ConformanceTarget>): Promise<ConformanceServer> {
  const target = await setup();
  const service = new ConformanceService();
  const server = new Server({ transport: target.transport, logger: silentLogger, drainTimeout: 1_000 }).register(service);
  const address = await server.listen(target.listenAddress);
  return {
    target,
    server,
    service,
    address,
    async stop() {
      await server.close({ drainTimeout: 500 });
      await target.teardown?.();
    },
  };
}
