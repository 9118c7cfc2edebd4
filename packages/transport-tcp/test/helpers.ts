import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Method, Service, type CallContext } from '@svc/core';

@Service('Echo')
export class Echo {
  @Method()
  async echo(request: unknown): Promise<unknown> {
    return request;
  }

  @Method()
  async slow(request: { ms: number }, ctx: CallContext): Promise<{ ms: number }> {
    await new Promise((resolve) => setTimeout(resolve, request.ms));
    return { ms: request.ms };
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function until(condition: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

export interface ChildServer {
  process: ChildProcess;
  address: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

// `node --import tsx` runs the TypeScript fixture in this one process (tsx's CLI would fork a
// grandchild that a kill would leave behind).
const tsxLoader = import.meta.resolve('tsx');
const fixture = fileURLToPath(new URL('./fixtures/echo-server.ts', import.meta.url));

/** Starts fixtures/echo-server.ts in a child process and waits for its address. */
export async function startChildServer(address: string): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', tsxLoader, fixture, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child server did not start in 20 s')), 20_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`child server exited with ${code}`)));
  });
  const info = JSON.parse(first) as { address: string };
  return {
    process: child,
    address: info.address,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
  };
}

/** A TCP proxy that counts connections and can black-hole traffic, to fake a dead peer. */
export class Proxy {
  connections = 0;
  blackHole = false;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(server: net.Server) {
    this.server = server;
  }

  static async start(targetPort: number): Promise<Proxy> {
    let proxy: Proxy;
    const server = net.createServer((inbound) => {
      proxy.connections++;
      const outbound = net.connect(targetPort, '127.0.0.1');
      for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
        proxy.sockets.add(from);
        from.on('data', (chunk) => {
          if (!proxy.blackHole) to.write(chunk);
        });
        from.on('close', () => to.destroy());
        from.on('error', () => to.destroy());
      }
    });
    proxy = new Proxy(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get address(): string {
    return `tcp://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

export function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

export interface ChildClient {
  process: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const streamClientFixture = fileURLToPath(new URL('./fixtures/stream-client.ts', import.meta.url));

/** Starts fixtures/stream-client.ts against `address` and waits until its stream has delivered a message. */
export async function startStreamingClient(address: string): Promise<ChildClient> {
  const child = spawn(process.execPath, ['--import', tsxLoader, streamClientFixture, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child client did not stream in 20 s')), 20_000);
    lines.once('line', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`child client exited with ${code}`)));
  });
  return {
    process: child,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
  };
}
