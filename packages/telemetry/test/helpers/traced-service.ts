import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A finished span as the child process reports it. */
export interface ChildSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  status: number;
  statusMessage: string | undefined;
  attributes: Record<string, unknown>;
  service: string;
}

export interface TracedServiceOptions {
  transport: 'tcp' | 'nats';
  natsUrl?: string;
  prometheusPort?: number;
  export?: 'memory' | 'otlp';
  env?: Record<string, string>;
}

/**
 * The traced Shop server (test/fixtures/traced-service.mjs, on dist/) in a child process: it
 * answers JSON commands on stdin with one JSON line each. Stopped by its pid if it does not stop.
 */
export class TracedService {
  readonly child: ChildProcess;
  readonly address: Promise<string>;
  private buffer = '';
  private readonly waiting: ((line: Record<string, unknown>) => void)[] = [];

  constructor(options: TracedServiceOptions) {
    const script = fileURLToPath(new URL('../fixtures/traced-service.mjs', import.meta.url));
    this.child = spawn(process.execPath, [script, JSON.stringify(options)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      // Nothing of the child's telemetry goes anywhere by default (no collector on 4318 here).
      env: { ...process.env, OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_TRACES_EXPORTER: 'none', ...options.env },
    });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString();
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        this.waiting.shift()?.(JSON.parse(line) as Record<string, unknown>);
      }
    });
    const exited = new Promise<never>((_, reject) => this.child.once('exit', (code) => reject(new Error(`traced service exited with ${code}`))));
    exited.catch(() => {});
    this.address = Promise.race([this.next().then((line) => line.address as string), exited]);
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private async command(cmd: string): Promise<Record<string, unknown>> {
    const answer = this.next();
    this.child.stdin!.write(JSON.stringify({ cmd }) + '\n');
    return withTimeout(answer, 10_000, `the traced service's answer to ${cmd}`);
  }

  async spans(): Promise<ChildSpan[]> {
    return (await this.command('spans')).spans as ChildSpan[];
  }

  /** Closes the server and shuts its telemetry down (flushing every export), then exits. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await this.command('stop');
      await withTimeout(gone, 5000, 'the traced service to exit');
    } finally {
      await this.kill();
    }
  }

  kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    process.kill(this.child.pid!, 'SIGKILL');
    return gone;
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
