import { Client, Method, RpcError, Server, Service, silentLogger, staticRegistry, type AttemptCall, type Filter, type Selector } from '@svc/core';
import { tcp } from '@svc/transport-tcp';

/** How a test node answers `Flaky.work`, changed while the test runs. */
export type Behaviour = 'ok' | 'unavailable' | 'invalid' | 'notFound' | 'slow';

/** The service of every node: counts its calls and answers as its behaviour says. */
@Service('Flaky')
export class Flaky {
  calls = 0;
  behaviour: Behaviour = 'ok';

  @Method()
  async work(args: { n: number }, ctx: { signal: AbortSignal }): Promise<{ n: number }> {
    this.calls++;
    switch (this.behaviour) {
      case 'unavailable':
        throw new RpcError('UNAVAILABLE', 'this node is unwell (test)');
      case 'invalid':
        throw new RpcError('INVALID_ARGUMENT', 'the request is wrong (test)');
      case 'notFound':
        throw new RpcError('NOT_FOUND', 'no such thing (test)');
      case 'slow':
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2_000);
          ctx.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
        return args;
      default:
        return args;
    }
  }

  @Method()
  async other(args: { n: number }): Promise<{ n: number }> {
    this.calls++;
    return args;
  }
}

export interface BreakerCluster {
  readonly nodes: Flaky[];
  readonly addresses: string[];
  readonly client: Client;
  /** Attempts that reached the breaker's filter, per address (an attempt filter outside it counts them). */
  readonly attempts: Map<string, number>;
  /** Calls Flaky.work once; resolves with the error instead of throwing it. */
  work(n?: number, options?: { timeout?: number }): Promise<{ n: number } | RpcError>;
  close(): Promise<void>;
}

/**
 * `count` real TCP servers on 127.0.0.1:0, each serving its own Flaky, and a Client with failover
 * (Flaky idempotent, no retry budget: every failure in a test may go to the next node), the
 * breaker's filter and selector.
 */
export async function breakerCluster(count: number, parts: { filter: Filter<AttemptCall>; selector?: Selector }): Promise<BreakerCluster> {
  const servers: Server[] = [];
  const nodes: Flaky[] = [];
  const addresses: string[] = [];
  let client: Client | undefined;
  const attempts = new Map<string, number>();
  const countAttempts: Filter<AttemptCall> = (call, next) => {
    attempts.set(call.node.address, (attempts.get(call.node.address) ?? 0) + 1);
    return next();
  };
  try {
    for (let i = 0; i < count; i++) {
      const node = new Flaky();
      const server = new Server({ transport: tcp(), logger: silentLogger }).register(node);
      servers.push(server);
      addresses.push(await server.listen('tcp://127.0.0.1:0'));
      nodes.push(node);
    }
    client = new Client({
      transport: tcp(),
      registry: staticRegistry({ Flaky: addresses }),
      logger: silentLogger,
      failMode: 'failover',
      services: { Flaky: { idempotent: true } },
      retryBudget: false,
      attemptFilters: [countAttempts, parts.filter],
      ...(parts.selector === undefined ? {} : { selector: parts.selector }),
      timeout: 5_000,
    });
  } catch (error) {
    await Promise.all(servers.map((s) => s.close({ drainTimeout: 100 })));
    throw error;
  }
  const ready = client;
  return {
    nodes,
    addresses,
    client: ready,
    attempts,
    work: (n = 0, options = {}) =>
      ready.invoke<{ n: number }>('Flaky', 'work', { n }, options).then(
        (value) => value,
        (error: unknown) => RpcError.from(error),
      ),
    async close() {
      await ready.close();
      await Promise.all(servers.map((s) => s.close({ drainTimeout: 100 })));
    },
  };
}

/** Calls made on each node since `before` (a copy of their counts). */
export function callsSince(nodes: readonly Flaky[], before: readonly number[]): number[] {
  return nodes.map((node, i) => node.calls - before[i]!);
}

export function callCounts(nodes: readonly Flaky[]): number[] {
  return nodes.map((node) => node.calls);
}
