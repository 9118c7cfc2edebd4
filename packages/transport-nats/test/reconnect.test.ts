/**
 * Calls across a reconnect of one side's NATS connection, the other side's staying up (what a
 * cluster node's death does to the processes that were on it). A TCP proxy in front of a real
 * nats-server carries one side's connection: cutting it drops that connection and refuses new
 * ones for a while, so nats.js reconnects after the cut, as to another node.
 *
 * - A call made while the client's connection is down waits for the reconnect
 *   (`waitForReconnect`) instead of failing at once: all its nodes are behind that connection.
 * - An answer a server makes while its connection is down is published once it is back, not
 *   handed to nats.js, which drops it unseen when it dials again.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, silentLogger, staticRegistry } from '@svc/core';
import { nats } from '../src/index.js';
import { freePort, NatsServerProcess, sleep } from '../src/testing/index.js';

@Service('Slow')
class Slow {
  /** Runs by how long they were asked to wait. */
  readonly runs = new Map<number, number>();
  @Method()
  async wait(args: { ms: number }): Promise<{ waited: number }> {
    this.runs.set(args.ms, (this.runs.get(args.ms) ?? 0) + 1);
    await sleep(args.ms);
    return { waited: args.ms };
  }
}

/** A TCP proxy to a nats-server on a port of its own; `cut(ms)` drops its connections and refuses new ones for `ms`. */
class CuttableProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    readonly port: number,
    private readonly upstream: number,
  ) {}

  static async start(upstream: number): Promise<CuttableProxy> {
    const proxy = new CuttableProxy(await freePort(), upstream);
    await proxy.open();
    return proxy;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  private open(): Promise<void> {
    const server = net.createServer((downstream) => {
      const up = net.connect(this.upstream, '127.0.0.1');
      for (const s of [downstream, up]) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      downstream.pipe(up).pipe(downstream);
      downstream.once('close', () => up.destroy());
      up.once('close', () => downstream.destroy());
    });
    this.server = server;
    return new Promise((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
  }

  /** Drops every connection through it at once and accepts none for `ms`. */
  async cut(ms: number): Promise<void> {
    const closed = new Promise((resolve) => this.server!.close(resolve));
    for (const s of this.sockets) s.destroy();
    await closed;
    setTimeout(() => void this.open(), ms);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => (this.server?.listening ? this.server.close(resolve) : resolve(undefined)));
  }
}

describe('calls across a reconnect', () => {
  let natsd: NatsServerProcess;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    natsd = await NatsServerProcess.start();
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await natsd?.dispose();
  });

  async function serve(url: string): Promise<{ address: string; slow: Slow }> {
    const slow = new Slow();
    const server = new Server({ transport: nats({ reconnectTimeWait: 50 }), logger: silentLogger }).register(slow);
    closers.push(() => server.close({ drainTimeout: 200 }));
    return { address: await server.listen(url), slow };
  }

  function clientOf(url: string, address: string, waitForReconnect?: number): Client {
    const client = new Client({ transport: nats({ servers: [url], reconnectTimeWait: 50, ...(waitForReconnect !== undefined ? { waitForReconnect } : {}) }), registry: staticRegistry({ Slow: [address] }) });
    closers.push(() => client.close());
    return client;
  }

  /** Resolves once the client's connection is up again: a call made now succeeds. */
  async function reconnected(client: Client, ms = 5_000): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const ok = await client.invoke('Slow', 'wait', { ms: 0 }, { timeout: 100 }).then(
        () => true,
        () => false,
      );
      if (ok) return;
      if (Date.now() > until) throw new Error('the client did not reconnect');
      await sleep(20);
    }
  }

  it('a call made while the connection is down waits for the reconnect and succeeds', async () => {
    const { address, slow } = await serve(natsd.url);
    const proxy = await CuttableProxy.start(natsd.port);
    closers.push(() => proxy.close());
    const client = clientOf(proxy.url, address);
    await client.invoke('Slow', 'wait', { ms: 0 });
    await proxy.cut(300);
    await sleep(30); // the client has seen the connection drop
    const started = Date.now();
    const reply = await client.invoke<{ waited: number }>('Slow', 'wait', { ms: 1 }, { timeout: 3_000 });
    expect(reply.waited).toBe(1);
    expect(slow.runs.get(1)).toBe(1);
    // It waited for the reconnect: the proxy was refusing for 300 ms.
    expect(Date.now() - started).toBeGreaterThan(150);
  });

  it('fails the call with UNAVAILABLE (not_sent) when the connection is not back within waitForReconnect, or at once with 0', async () => {
    const { address, slow } = await serve(natsd.url);
    const proxy = await CuttableProxy.start(natsd.port);
    closers.push(() => proxy.close());
    const waiting = clientOf(proxy.url, address, 200);
    const failFast = clientOf(proxy.url, address, 0);
    await Promise.all([waiting, failFast].map((c) => c.invoke('Slow', 'wait', { ms: 0 })));
    await proxy.cut(1_500);
    await sleep(30);
    const outcome = async (client: Client): Promise<{ error: RpcError; ms: number }> => {
      const started = Date.now();
      const error = await client.invoke('Slow', 'wait', { ms: 1 }, { timeout: 3_000 }).then(
        () => undefined,
        (e: RpcError) => e,
      );
      if (error === undefined) throw new Error('the call succeeded while the connection was down');
      return { error, ms: Date.now() - started };
    };
    const [late, fast] = await Promise.all([outcome(waiting), outcome(failFast)]);
    for (const { error } of [late, fast]) {
      expect(error.code).toBe('UNAVAILABLE');
      expect(error.progress).toBe('not_sent');
    }
    expect(late.error.message).toContain('did not come back within 200 ms');
    expect(late.ms).toBeGreaterThanOrEqual(190);
    expect(late.ms).toBeLessThan(1_000);
    expect(fast.ms).toBeLessThan(100);
    await reconnected(waiting);
    await sleep(50);
    // Failed as not_sent, and so never sent later.
    expect(slow.runs.get(1)).toBeUndefined();
  });

  it("a call cancelled by its deadline while it waits is not sent after the reconnect", async () => {
    const { address, slow } = await serve(natsd.url);
    const proxy = await CuttableProxy.start(natsd.port);
    closers.push(() => proxy.close());
    const client = clientOf(proxy.url, address, 2_000);
    await client.invoke('Slow', 'wait', { ms: 0 });
    await proxy.cut(400);
    await sleep(30);
    const error = await client.invoke('Slow', 'wait', { ms: 1 }, { timeout: 100 }).then(
      () => undefined,
      (e: RpcError) => e,
    );
    expect(error?.code).toBe('DEADLINE_EXCEEDED');
    await reconnected(client);
    await sleep(50);
    expect(slow.runs.get(1)).toBeUndefined();
  });

  it("answers a call whose handler finished while the server's connection was down, once it is back", async () => {
    // The server's connection goes through the proxy; the client's does not and stays up.
    const proxy = await CuttableProxy.start(natsd.port);
    closers.push(() => proxy.close());
    const { address } = await serve(proxy.url);
    const client = clientOf(natsd.url, address, 0);
    await client.invoke('Slow', 'wait', { ms: 0 });
    const call = client.invoke<{ waited: number }>('Slow', 'wait', { ms: 150 }, { timeout: 3_000 });
    await sleep(50);
    // The handler finishes 100 ms into the cut; the server reconnects only after 400 ms.
    await proxy.cut(400);
    const started = Date.now();
    expect((await call).waited).toBe(150);
    expect(Date.now() - started).toBeGreaterThan(300);
  });
});
