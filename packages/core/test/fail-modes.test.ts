import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../src/testing/index.js';
import { CallContext, Client, Method, RpcError, Server, Service, inproc, silentLogger, staticRegistry, type AttemptCall, type ClientOptions, type Filter, type OutgoingCall, type Selector, observingAttemptFilter } from '../src/index.js';

/** How one node behaves, changeable during a test. */
interface Behaviour {
  fail?: RpcError | ((n: number) => RpcError | undefined);
  delayMs?: number;
  pushback?: string;
}

@Service('Node', { version: '1.0.0' })
class Node {
  runs = 0;
  aborted = 0;
  seenAttempts: string[] = [];
  constructor(
    readonly name: string,
    readonly behaviour: Behaviour,
  ) {}

  @Method({ idempotent: true })
  async get(_: unknown, ctx: CallContext): Promise<string> {
    return this.serve(ctx);
  }

  @Method()
  async post(_: unknown, ctx: CallContext): Promise<string> {
    return this.serve(ctx);
  }

  private async serve(ctx: CallContext): Promise<string> {
    this.runs++;
    this.seenAttempts.push(ctx.metadata['svc-attempt'] ?? '1');
    const b = this.behaviour;
    if (b.delayMs) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, b.delayMs);
        ctx.signal.addEventListener('abort', () => {
          this.aborted++;
          clearTimeout(t);
          resolve();
        });
      });
    }
    if (b.pushback !== undefined) ctx.sendMetadata({ 'svc-retry-pushback-ms': b.pushback });
    const fail = typeof b.fail === 'function' ? b.fail(this.runs) : b.fail;
    if (fail) throw fail;
    return this.name;
  }
}

const firstNode: Selector = { select: (nodes) => nodes[0]! };
const unavailable = () => new RpcError('UNAVAILABLE', 'node is unwell');

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

/** n servers on one inproc transport, each its own Node, and a client over all of them. */
async function cluster(behaviours: Behaviour[], options: Partial<ClientOptions> = {}, serverFilters: Filter[] = []) {
  const transport = inproc();
  const nodes: Node[] = [];
  const addresses: string[] = [];
  for (const [i, b] of behaviours.entries()) {
    const node = new Node(`n${i}`, b);
    const server = new Server({ transport, logger: silentLogger, filters: serverFilters }).register(node);
    addresses.push(await server.listen(`inproc://fm-${i}-${Math.random()}`));
    nodes.push(node);
    stops.push(() => server.close({ drainTimeout: 100 }));
  }
  // The client knows idempotency from schemas (svc-gen) or from its settings; these tests use settings.
  const services = { Node: { ...options.services?.['Node'], methods: { get: { idempotent: true }, ...options.services?.['Node']?.methods } } };
  // The first node allowed, unless a test says otherwise: attempts go n0, n1, n2 in order.
  const client = new Client({ transport, registry: staticRegistry({ Node: addresses }), selector: firstNode, ...options, services });
  stops.push(() => client.close());
  const runs = () => nodes.map((n) => n.runs);
  return { client, nodes, addresses, runs, transport };
}

describe('failfast (the default)', () => {
  it('fails at once when a handler ran, idempotent or not', async () => {
    const { client, runs } = await cluster([{ fail: unavailable() }, {}]);
    await expect(client.invoke('Node', 'get', {})).rejects.toMatchObject({ code: 'UNAVAILABLE', progress: 'processed' });
    expect(runs()).toEqual([1, 0]);
  });

  it('tries a refused call once more on another node, for any method (transparent retry)', async () => {
    let refusals = 0;
    const shed: Filter = async (call, next) => {
      if (refusals++ === 0) throw new RpcError('RESOURCE_EXHAUSTED', 'shed');
      return next();
    };
    const { client, runs } = await cluster([{}, {}], {}, [shed]);
    expect(await client.invoke('Node', 'post', {})).toBe('n1');
    expect(runs()).toEqual([0, 1]);
  });

  it('tries a not_sent call on another node for free', async () => {
    const transport = inproc();
    const node = new Node('live', {});
    const server = new Server({ transport, logger: silentLogger }).register(node);
    const live = await server.listen('inproc://fm-live');
    stops.push(() => server.close());
    const client = new Client({ transport, registry: staticRegistry({ Node: ['inproc://nobody-here', live] }) });
    stops.push(() => client.close());
    for (let i = 0; i < 4; i++) expect(await client.invoke('Node', 'post', {})).toBe('live');
    expect(node.runs).toBe(4);
  });
});

describe('failover', () => {
  it('goes to another node after a processed failure of an idempotent method, never one already tried', async () => {
    const { client, runs } = await cluster([{ fail: unavailable() }, { fail: unavailable() }, {}], { failMode: 'failover' });
    expect(await client.invoke('Node', 'get', {})).toBe('n2');
    expect(runs()).toEqual([1, 1, 1]);
  });

  it('does not retry a non-idempotent method after processed', async () => {
    const { client, runs } = await cluster([{ fail: unavailable() }, {}], { failMode: 'failover' });
    await expect(client.invoke('Node', 'post', {})).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(runs()).toEqual([1, 0]);
  });

  it('stops when every node was tried, with the last error', async () => {
    const { client, runs } = await cluster([{ fail: unavailable() }, { fail: unavailable() }], { failMode: { mode: 'failover', maxAttempts: 5 } });
    await expect(client.invoke('Node', 'get', {})).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'node is unwell' });
    expect(runs()).toEqual([1, 1]);
  });

  it('does not retry codes that are not retryable', async () => {
    const { client, runs } = await cluster([{ fail: new RpcError('INVALID_ARGUMENT', 'bad') }, {}], { failMode: 'failover' });
    await expect(client.invoke('Node', 'get', {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(runs()).toEqual([1, 0]);
  });

  it('marks every attempt after the first with svc-attempt', async () => {
    const { client, nodes } = await cluster([{ fail: unavailable() }, { fail: unavailable() }, {}], { failMode: 'failover' });
    await client.invoke('Node', 'get', {});
    expect(nodes.map((n) => n.seenAttempts)).toEqual([['1'], ['2'], ['3']]);
  });

  it('per service and per method settings override the client, and a call overrides them', async () => {
    const { client, runs } = await cluster([{ fail: unavailable() }, {}], {
      failMode: 'failfast',
      services: { Node: { methods: { post: { failMode: 'failover', idempotent: true } } } },
    });
    expect(await client.invoke('Node', 'post', {})).toBe('n1');
    await expect(client.invoke('Node', 'post', {}, { failMode: 'failfast' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(runs()).toEqual([2, 1]);
  });
});

describe('failretry', () => {
  it('tries the same node again after a backoff', async () => {
    const { client, runs } = await cluster([{ fail: (n) => (n < 3 ? unavailable() : undefined) }, {}], { failMode: { mode: 'failretry', maxAttempts: 3, backoff: { initialMs: 5, maxMs: 10 } } });
    expect(await client.invoke('Node', 'get', {})).toBe('n0');
    expect(runs()).toEqual([3, 0]);
  });

  it('never waits past the deadline: a pushback longer than the time left ends the call with the last error', async () => {
    const { client, runs } = await cluster([{ fail: unavailable(), pushback: '5000' }], { failMode: 'failretry' });
    const started = Date.now();
    await expect(client.invoke('Node', 'get', {}, { timeout: 300 })).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'node is unwell' });
    expect(Date.now() - started).toBeLessThan(250);
    expect(runs()).toEqual([1]);
  });

  it('a pushback of -1 means do not retry', async () => {
    const { client, runs } = await cluster([{ fail: unavailable(), pushback: '-1' }, {}], { failMode: 'failover' });
    await expect(client.invoke('Node', 'get', {})).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(runs()).toEqual([1, 0]);
  });

  it('waits as long as the pushback says', async () => {
    const { client, runs } = await cluster([{ fail: (n) => (n === 1 ? unavailable() : undefined), pushback: '80' }], { failMode: { mode: 'failretry', backoff: { initialMs: 0 } } });
    const started = Date.now();
    expect(await client.invoke('Node', 'get', {})).toBe('n0');
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect(runs()).toEqual([2]);
  });

  it('caps attempts at 5', async () => {
    const { client, runs } = await cluster([{ fail: unavailable() }], { failMode: { mode: 'failretry', maxAttempts: 50, backoff: { initialMs: 1, maxMs: 1 } }, retryBudget: false });
    await expect(client.invoke('Node', 'get', {})).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(runs()).toEqual([5]);
  });
});

describe('the retry budget', () => {
  it('keeps attempts within 1.1 × calls when every call fails', async () => {
    const { client, runs } = await cluster([{ fail: unavailable() }, { fail: unavailable() }, { fail: unavailable() }], { failMode: 'failover' });
    const calls = 200;
    for (let i = 0; i < calls; i++) await client.invoke('Node', 'get', {}).catch(() => undefined);
    const attempts = runs().reduce((a, b) => a + b, 0);
    expect(attempts).toBeGreaterThan(calls); // it did retry at first
    expect(attempts).toBeLessThanOrEqual(calls * 1.1);
  });

  it('recovers as calls succeed again', async () => {
    const behaviour: Behaviour = { fail: unavailable() };
    const { client, runs } = await cluster([behaviour, {}], { failMode: 'failover', selector: { select: (nodes) => nodes[0]! } });
    for (let i = 0; i < 20; i++) await client.invoke('Node', 'get', {}).catch(() => undefined);
    const before = runs()[1]!;
    behaviour.fail = undefined;
    for (let i = 0; i < 80; i++) await client.invoke('Node', 'get', {}); // +8 tokens: one failure leaves 7, over half
    behaviour.fail = unavailable();
    expect(await client.invoke('Node', 'get', {})).toBe('n1');
    expect(runs()[1]).toBe(before + 1);
  });
});

describe('failsafe and fallbacks', () => {
  it('resolves with the fallback value or function instead of the error', async () => {
    const { client } = await cluster([{ fail: unavailable() }]);
    expect(await client.invoke('Node', 'post', {}, { failMode: 'failsafe', fallback: 'cached' })).toBe('cached');
    expect(await client.invoke('Node', 'post', {}, { fallback: (e: RpcError) => `degraded: ${e.code}` })).toBe('degraded: UNAVAILABLE');
    expect(await client.invoke('Node', 'post', {}, { fallback: async () => 'later' })).toBe('later');
  });

  it('a fallback that throws rejects with its error', async () => {
    const { client } = await cluster([{ fail: unavailable() }]);
    await expect(client.invoke('Node', 'post', {}, { fallback: () => { throw new RpcError('NOT_FOUND', 'no cache'); } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('failsafe without a fallback is refused before sending', async () => {
    const { client, runs } = await cluster([{}]);
    await expect(client.invoke('Node', 'post', {}, { failMode: 'failsafe' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', progress: 'not_sent' });
    expect(runs()).toEqual([0]);
  });

  it('applies to a deadline, never to the caller cancelling', async () => {
    const { client } = await cluster([{ delayMs: 1_000 }]);
    expect(await client.invoke('Node', 'post', {}, { timeout: 30, fallback: 'late' })).toBe('late');
    const controller = new AbortController();
    const pending = client.invoke('Node', 'post', {}, { fallback: 'never', signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('comes from ClientOptions.services too', async () => {
    const { client } = await cluster([{ fail: unavailable() }], { services: { Node: { failMode: 'failsafe', fallback: 'service-wide' } } });
    expect(await client.invoke('Node', 'get', {})).toBe('service-wide');
  });
});

describe('failbackup (hedging)', () => {
  it('sends a hedge after the delay; the first answer wins and the other is cancelled on the wire', async () => {
    const { client, nodes } = await cluster([{ delayMs: 2_000 }, {}], { failMode: { mode: 'failbackup', hedgeDelay: 20 }, selector: { select: (n) => n[0]! } });
    const started = Date.now();
    expect(await client.invoke('Node', 'get', {})).toBe('n1');
    expect(Date.now() - started).toBeLessThan(1_000);
    await until(() => nodes[0]!.aborted === 1);
    expect(nodes[0]!.aborted).toBe(1);
    expect(nodes[1]!.seenAttempts).toEqual(['2']);
  });

  it('does not hedge a method that is not idempotent', async () => {
    const { client, runs } = await cluster([{ delayMs: 100 }, {}], { failMode: { mode: 'failbackup', hedgeDelay: 5 }, selector: { select: (n) => n[0]! } });
    expect(await client.invoke('Node', 'post', {})).toBe('n0');
    expect(runs()).toEqual([1, 0]);
  });

  it('hedges at the observed p95 once it has seen enough calls', async () => {
    const slow: Behaviour = {};
    const { client, runs } = await cluster([slow, {}], { failMode: 'failbackup', selector: { select: (n) => n[0]! } });
    for (let i = 0; i < 40; i++) await client.invoke('Node', 'get', {});
    expect(runs()).toEqual([40, 0]);
    slow.delayMs = 1_000;
    const started = Date.now();
    expect(await client.invoke('Node', 'get', {})).toBe('n1');
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe('ChainStop', () => {
  it('a call whose parent is itself a retry does not retry again', async () => {
    const { client, runs } = await cluster([{ fail: unavailable() }, {}], { failMode: 'failover' });
    const parent = { deadline: 0, signal: new AbortController().signal, attempt: 2 };
    await expect(client.invoke('Node', 'get', {}, { parent })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(runs()).toEqual([1, 0]);
    expect(await client.invoke('Node', 'get', {}, { parent: { ...parent, attempt: 1 } })).toBe('n1');
  });
});

describe('attempt filters and selectors', () => {
  it('attempt filters run once per attempt and know the node; call filters once per call', async () => {
    const log: string[] = [];
    const callFilter: Filter = async (call, next) => {
      log.push(`call ${call.method}`);
      return next();
    };
    const attemptFilter: Filter<AttemptCall> = async (attempt, next) => {
      log.push(`attempt ${attempt.attempt} ${attempt.node.address.slice(0, 13)} hedge=${attempt.hedge}`);
      return next();
    };
    const { client } = await cluster([{ fail: unavailable() }, {}], { failMode: 'failover', filters: [callFilter], attemptFilters: [attemptFilter], selector: { select: (n) => n[0]! } });
    await client.invoke('Node', 'get', {});
    expect(log).toEqual(['call get', 'attempt 1 inproc://fm-0 hedge=false', 'attempt 2 inproc://fm-1 hedge=false']);
  });

  it('an attempt filter that throws not_sent skips the node for free (as an open breaker will)', async () => {
    const open: Filter<AttemptCall> = async (attempt, next) => {
      if (attempt.node.address.includes('fm-0')) throw new RpcError('UNAVAILABLE', 'circuit open', { progress: 'not_sent' });
      return next();
    };
    const { client, runs } = await cluster([{}, {}], { attemptFilters: [open], selector: { select: (n) => n[0]! } });
    expect(await client.invoke('Node', 'post', {})).toBe('n1');
    expect(runs()).toEqual([0, 1]);
  });

  it('attempt filters may add metadata to their attempt; they may not replace the request', async () => {
    const tag: Filter<AttemptCall> = async (attempt, next) => {
      (attempt.metadata as Record<string, string>)['svc-attempt-tag'] = String(attempt.attempt);
      expect(() => {
        attempt.request = 1;
      }).toThrow(/call filter/);
      return next();
    };
    const seen: string[] = [];
    const { client } = await cluster([{}], { attemptFilters: [tag] }, [async (call, next) => (seen.push(call.metadata['svc-attempt-tag'] ?? '-'), next())]);
    await client.invoke('Node', 'post', {});
    expect(seen).toEqual(['1']);
  });

  it("what an attempt filter adds to the first attempt's metadata does not reach the retry", async () => {
    const tagFirst: Filter<AttemptCall> = async (attempt, next) => {
      if (attempt.attempt === 1) (attempt.metadata as Record<string, string>)['svc-attempt-tag'] = 'first';
      return next();
    };
    const seen: string[] = [];
    const { client } = await cluster([{ fail: unavailable() }, {}], { failMode: 'failover', attemptFilters: [tagFirst], selector: { select: (n) => n[0]! } }, [
      async (call, next) => (seen.push(`${call.metadata['svc-attempt-tag'] ?? '-'} ${call.metadata['svc-attempt'] ?? '-'}`), next()),
    ]);
    expect(await client.invoke('Node', 'get', {})).toBe('n1');
    // The first attempt (sent without a runner) had the tag; the runner's retry starts from the call's metadata.
    expect(seen).toEqual(['first -', '- 2']);
  });

  it('the selector is given the tried nodes and told every outcome with its latency', async () => {
    const reports: [string, string | undefined][] = [];
    const triedSeen: string[][] = [];
    const selector: Selector = {
      select(nodes, _call, tried) {
        triedSeen.push([...tried]);
        return nodes[0]!;
      },
      report(node, error, latencyMs) {
        expect(latencyMs).toBeGreaterThanOrEqual(0);
        reports.push([node.address.slice(0, 13), error?.code]);
      },
    };
    const { client } = await cluster([{ fail: unavailable() }, { fail: unavailable() }, {}], { failMode: 'failover', selector });
    await client.invoke('Node', 'get', {});
    expect(reports).toEqual([
      ['inproc://fm-0', 'UNAVAILABLE'],
      ['inproc://fm-1', 'UNAVAILABLE'],
      ['inproc://fm-2', undefined],
    ]);
    // A selector that learns is asked even for a list of one (fm-2, the only node left), so that
    // each of its picks is answered by one report.
    expect(triedSeen.map((t) => t.length)).toEqual([0, 1, 2]);
  });

  it('reports exactly what the selector picked: one report per select, none for a pinned address or failretry\'s same node', async () => {
    let outstanding = 0;
    let selects = 0;
    let reports = 0;
    const counting: Selector = {
      select(nodes) {
        selects++;
        outstanding++;
        return nodes[0]!;
      },
      report() {
        reports++;
        outstanding--;
      },
    };
    const { client, addresses } = await cluster([{ fail: (n) => (n <= 2 ? unavailable() : undefined) }, {}], { selector: counting, failMode: { mode: 'failretry', backoff: { initialMs: 1, maxMs: 1 } } });
    // failretry: the first attempt is picked, the two retries go back to its node without a pick.
    expect(await client.invoke('Node', 'get', {})).toBe('n0');
    expect([selects, reports, outstanding]).toEqual([1, 1, 0]);
    await client.invoke('Node', 'get', {}, { address: addresses[1] });
    expect([selects, reports, outstanding]).toEqual([1, 1, 0]);
    const one = await cluster([{}], { selector: counting });
    await one.client.invoke('Node', 'get', {});
    expect([selects, reports, outstanding]).toEqual([2, 2, 0]);
  });

  it('a call filter reads the attempts a call made (OutgoingCall.attemptCount) and may turn the observing attempt filters off', async () => {
    const counts: number[] = [];
    const observed: number[] = [];
    const acted: number[] = [];
    const callFilter: Filter = async (call, next) => {
      const outgoing = call as OutgoingCall;
      expect(outgoing.attemptCount).toBe(0);
      if (call.metadata.quiet === '1') outgoing.observeAttempts = false;
      try {
        return await next();
      } finally {
        counts.push(outgoing.attemptCount);
      }
    };
    const observer = observingAttemptFilter(async (attempt, next) => (observed.push(attempt.attempt), next()));
    const actor: Filter<AttemptCall> = async (attempt, next) => (acted.push(attempt.attempt), next());
    const flaky = () => ({ fail: (n: number) => (n === 1 ? unavailable() : undefined) });
    const { client, runs } = await cluster([flaky(), {}], { failMode: 'failover', filters: [callFilter], attemptFilters: [observer] });
    expect(await client.invoke('Node', 'get', {})).toBe('n1'); // n0 fails once: two attempts
    expect(await client.invoke('Node', 'get', {})).toBe('n0');
    expect(await client.invoke('Node', 'get', {}, { metadata: { quiet: '1' } })).toBe('n0');
    expect(counts).toEqual([2, 1, 1]);
    // The quiet call ran no observer: it saw the first two calls' three attempts only.
    expect(observed).toEqual([1, 2, 1]);
    expect(runs()).toEqual([3, 1]);
    // A filter that acts (a breaker) runs for every attempt, quiet calls too; observers as they say.
    const both = await cluster([flaky(), {}], { failMode: 'failover', filters: [callFilter], attemptFilters: [observer, actor] });
    await both.client.invoke('Node', 'get', {}, { metadata: { quiet: '1' } });
    await both.client.invoke('Node', 'get', {});
    expect(acted).toEqual([1, 2, 1]);
    expect(observed).toEqual([1, 2, 1, 1]);
    // Without attempt filters a call still counts its attempts, on the direct path and after a failover.
    const plain = await cluster([flaky(), {}], { failMode: 'failover', filters: [callFilter] });
    await plain.client.invoke('Node', 'get', {});
    await plain.client.invoke('Node', 'get', {}, { metadata: { quiet: '1' } });
    expect(counts.slice(3)).toEqual([2, 1, 2, 1]);
  });
});

describe('the selector learns of every attempt that ends', () => {
  it('is told of a hedge that lost and of attempts cut off by the deadline (as CANCELLED / DEADLINE_EXCEEDED)', async () => {
    const reports: (string | undefined)[] = [];
    const selector: Selector = { select: (nodes) => nodes[0]!, report: (_node, error) => reports.push(error?.code) };
    const { client } = await cluster([{ delayMs: 500 }, {}], { failMode: { mode: 'failbackup', hedgeDelay: 10 }, selector });
    expect(await client.invoke('Node', 'get', {})).toBe('n1');
    expect(reports).toEqual([undefined, 'CANCELLED']);
    reports.length = 0;
    const slow = await cluster([{ delayMs: 500 }], { failMode: 'failover', selector });
    await expect(slow.client.invoke('Node', 'get', {}, { timeout: 30 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(reports).toEqual(['DEADLINE_EXCEEDED']);
  });
});

describe('what the budget counts', () => {
  it('failures that never left the client do not spend it', async () => {
    const transport = inproc();
    const node = new Node('live', { fail: (n) => (n % 2 === 1 ? unavailable() : undefined) });
    const server = new Server({ transport, logger: silentLogger }).register(node);
    const live = await server.listen('inproc://fm-budget-live');
    stops.push(() => server.close());
    const failMode = { mode: 'failretry' as const, backoff: { initialMs: 1, maxMs: 1 } };
    const client = new Client({ transport, selector: firstNode, failMode, services: { Node: { methods: { get: { idempotent: true } } } }, registry: staticRegistry({ Node: ['inproc://nobody', live] }) });
    stops.push(() => client.close());
    // failretry stays on the first node, where nobody listens: 3 not_sent attempts a call, 90 in all.
    for (let i = 0; i < 30; i++) await expect(client.invoke('Node', 'get', {})).rejects.toMatchObject({ progress: 'not_sent' });
    // The budget is still full, so a retry is allowed: the first run fails, the retry succeeds.
    expect(await client.invoke('Node', 'get', {}, { address: live })).toBe('live');
    expect(node.runs).toBe(2);
  });
});

describe('attempts no server handled', () => {
  it('a retry after not_sent is not marked as a retry (svc-attempt), so ChainStop does not kick in', async () => {
    const transport = inproc();
    const node = new Node('live', {});
    const server = new Server({ transport, logger: silentLogger }).register(node);
    const live = await server.listen('inproc://fm-chain-live');
    stops.push(() => server.close());
    const client = new Client({ transport, selector: firstNode, failMode: 'failover', registry: staticRegistry({ Node: ['inproc://nobody-chain', live] }), services: { Node: { methods: { get: { idempotent: true } } } } });
    stops.push(() => client.close());
    expect(await client.invoke('Node', 'get', {})).toBe('live');
    expect(node.seenAttempts).toEqual(['1']);
  });

  it('the first refusal is retried elsewhere in every mode without counting as an attempt', async () => {
    let refused = 0;
    const refuseFirst: Filter = async (call, next) => {
      if (refused++ === 0) throw new RpcError('UNAVAILABLE', 'shutting down');
      return next();
    };
    // maxAttempts 2: refused on n0 (free), failed on n1 (attempt 1), served by n2 (attempt 2).
    const { client, runs, nodes } = await cluster([{}, { fail: unavailable() }, {}], { failMode: { mode: 'failover', maxAttempts: 2 } }, [refuseFirst]);
    expect(await client.invoke('Node', 'get', {})).toBe('n2');
    expect(runs()).toEqual([0, 1, 1]);
    expect(nodes[1]!.seenAttempts).toEqual(['1']); // the refusal ran no handler: still the first
    expect(nodes[2]!.seenAttempts).toEqual(['2']);
  });

  it('round robin spreads the traffic of a dead node evenly over the others', async () => {
    const transport = inproc();
    const counts: number[] = [];
    const addresses: string[] = ['inproc://dead-rr'];
    for (let i = 0; i < 2; i++) {
      const node = new Node(`s${i}`, {});
      const server = new Server({ transport, logger: silentLogger }).register(node);
      addresses.push(await server.listen(`inproc://rr-${i}`));
      stops.push(() => server.close());
      counts.push(0);
    }
    const client = new Client({ transport, registry: staticRegistry({ Node: addresses }) });
    stops.push(() => client.close());
    for (let i = 0; i < 3_000; i++) counts[Number((await client.invoke<string>('Node', 'post', {})).slice(1))]!++;
    for (const c of counts) expect(c).toBeGreaterThan(3_000 * 0.42);
  });
});

describe('attemptTimeout', () => {
  it('cancels an attempt that takes too long and fails over (idempotent), within the call deadline', async () => {
    const { client, nodes } = await cluster([{ delayMs: 5_000 }, {}], { failMode: { mode: 'failover', attemptTimeout: 50 } });
    const started = Date.now();
    expect(await client.invoke('Node', 'get', {}, { timeout: 2_000 })).toBe('n1');
    expect(Date.now() - started).toBeLessThan(1_500);
    await until(() => nodes[0]!.aborted === 1);
    expect(nodes[0]!.aborted).toBe(1); // the slow attempt was cancelled on the wire
  });

  it('fails a non-idempotent call at the attempt timeout, without a second run', async () => {
    const { client, runs } = await cluster([{ delayMs: 5_000 }, {}], { failMode: { mode: 'failover', attemptTimeout: 50 } });
    await expect(client.invoke('Node', 'post', {}, { timeout: 2_000 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', progress: 'processed', message: expect.stringContaining('attemptTimeout') });
    expect(runs()).toEqual([1, 0]);
  });

  it('leaves the server the call deadline: the client cuts the attempt itself, so the server cannot answer DEADLINE_EXCEEDED first', async () => {
    let seen = 0;
    const { client } = await cluster([{}], { failMode: { mode: 'failover', attemptTimeout: 300 } }, [async (call, next) => ((seen = call.deadline - Date.now()), next())]);
    await client.invoke('Node', 'get', {}, { timeout: 10_000 });
    expect(seen).toBeGreaterThan(9_000);
  });
});
