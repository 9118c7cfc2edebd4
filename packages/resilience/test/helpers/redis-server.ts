import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './free-port.js';

/**
 * A redis-server of the test's own, on a free loopback port, keeping nothing on disk; never the
 * machine's shared Redis on 6379. `stop()` kills it by pid (a Redis that dies, for restart tests),
 * `start()` brings it back on the same port, empty.
 */
export class RedisServer {
  private child: ChildProcess | undefined = undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.start();
    return server;
  }

  get host(): string {
    return '127.0.0.1';
  }

  async start(): Promise<void> {
    if (this.child !== undefined) throw new Error('redis-server is already running');
    const child = spawn('redis-server', ['--port', String(this.port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
    this.child = child;
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`redis-server exited (${String(code)}) before it listened on ${this.port}`))));
    exited.catch(() => undefined);
    await Promise.race([waitForPort(this.port, 5000), exited]);
  }

  /** Kills it by pid (SIGKILL: a crash, not a shutdown) and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, 'SIGKILL');
    await gone;
  }
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`redis-server did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
