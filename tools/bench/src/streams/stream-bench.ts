/**
 * Stream benchmark (issue 14): what a stream moves, against what a raw socket moves on the same
 * loopback, and a stream's message rate against unary calls. The server is a process of its own
 * (this file with --serve): an @svc server of the Pour service and a raw `net` server, both on
 * 127.0.0.1. Each round measures, in alternation:
 *   - raw:      the raw server writes `volume` bytes in 64 KiB length-prefixed frames, honouring
 *               the socket's backpressure; the client reads them;
 *   - down:     Pour.blocks, a server stream of 64 KiB messages, `volume` bytes;
 *   - up:       Pour.sink, a client stream of 64 KiB messages, `volume` bytes;
 *   - ticks:    Pour.ticks, a server stream of small messages ({ n }), for `seconds`;
 *   - unary:    Pour.ping, the same small message as unary calls, 100 callers, for `seconds`;
 *   - nats down, nats up: Pour.blocks and Pour.sink again, over NATS: the server process also
 *               listens on a nats-server this bench starts on a free loopback port (never the
 *               shared one on 4222), with its default max_payload of 1 MiB.
 * Both processes sample their RSS every 20 ms; each transfer reports its peak growth over the
 * RSS before it (the 1 GiB target: under 64 MiB on either side).
 * `--window` is both sides' streamWindow (default: core's, 256 KiB), `--max-window` their maxStreamWindow
 * (default: core's, 4 MiB; the window itself keeps windows from growing); `--no-nats` leaves the NATS rows out.
 * `--heap-mib` (default 32) is live data each process holds, as a service holds its own: with the
 * bench's bare 8-10 MiB heaps V8 can fall into restarting incremental marking after every
 * mark-compact (the limit it sets leaves less room than the 16 MiB young generation), and then
 * every row, the raw socket's too, runs at about half its rate; whether it does depends on what
 * the process loaded (docs/performance.md has the numbers). `--heap-mib=0` measures bare processes.
 * `--only=raw,down` runs only the rows named (raw, down, up, ticks, unary, natsDown, natsUp), to profile one.
 *   node dist/streams/stream-bench.js [--volume-mib=1024] [--seconds=3] [--rounds=3] [--window=BYTES] [--max-window=BYTES] [--heap-mib=32] [--no-nats] [--only=ROWS] [--out=DIR]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, protobufCodec, Server, staticRegistry } from '@svc/core';
import { DEFAULT_MAX_STREAM_WINDOW, DEFAULT_STREAM_WINDOW } from '@svc/core/transport';
import { tcp } from '@svc/transport-tcp';
import { nats } from '@svc/transport-nats';
import { PourClient, schemas } from '../generated/index.js';
import { startNats, type NatsServer } from '../processes.js';
import { Pour } from './pour-service.js';

const BLOCK = 64 * 1024;
const args = new Map<string, string>(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
/** `--only=raw,down`: the rows to run (all by default), to profile one transfer alone. */
const only = args.get('only')?.split(',');
const runs = (row: string): boolean => only === undefined || only.includes(row);

/** Peak RSS since the last reset, sampled every 20 ms. */
class RssWatch {
  private peak = 0;
  private base = 0;
  constructor() {
    setInterval(() => this.sample(), 20).unref();
  }
  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }
  reset(): void {
    this.base = process.memoryUsage.rss();
    this.peak = this.base;
  }
  /** MiB the peak grew over the RSS at the reset. */
  growthMiB(): number {
    this.sample();
    return (this.peak - this.base) / 1024 / 1024;
  }
}

/** Live data of `--heap-mib` MiB (1 KiB strings), held until the process exits. */
function holdHeap(): void {
  const mib = Number(args.get('heap-mib') ?? 32);
  const held = Array.from({ length: mib * 1024 }, (_, i) => `${i}:`.padEnd(1024, 'x'));
  process.once('exit', () => void held.length);
}

/** Both sides' stream window, when given. */
function windowOption(): number | undefined {
  const value = args.get('window');
  return value === undefined ? undefined : Number(value);
}

/** Both sides' window options: `--window` (the starting one) and `--max-window` (what it may grow to). */
function windowOptions(): { streamWindow?: number; maxStreamWindow?: number } {
  const max = args.get('max-window');
  return { streamWindow: windowOption(), ...(max === undefined ? {} : { maxStreamWindow: Number(max) }) };
}

async function serve(): Promise<void> {
  holdHeap();
  const rss = new RssWatch();
  const server = new Server({ transport: tcp(), schemas, codecs: [protobufCodec({ schemas })], ...windowOptions() }).register(new Pour());
  const address = await server.listen('tcp://127.0.0.1:0');
  // The same service over NATS, when the bench started a nats-server (--nats=<url>).
  const natsUrl = args.get('nats');
  const natsServer = natsUrl === undefined ? undefined : new Server({ transport: nats(), schemas, codecs: [protobufCodec({ schemas })], ...windowOptions() }).register(new Pour());
  const natsAddress = natsUrl === undefined ? undefined : await natsServer!.listen(natsUrl);
  const raw = net.createServer((socket) => {
    socket.once('data', (chunk) => {
      const bytes = Number(chunk.toString().trim());
      const frame = Buffer.alloc(4 + BLOCK);
      frame.writeUInt32BE(BLOCK, 0);
      let sent = 0;
      const pump = (): void => {
        while (sent < bytes) {
          sent += BLOCK;
          if (!socket.write(frame)) return void socket.once('drain', pump);
        }
        socket.end();
      };
      pump();
    });
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  console.log(JSON.stringify({ address, natsAddress, raw: (raw.address() as net.AddressInfo).port }));
  // Commands on stdin: "reset" before a transfer, "rss" after it (answers its growth).
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'reset') rss.reset();
    if (line === 'rss') console.log(JSON.stringify({ rssGrowthMiB: rss.growthMiB() }));
    if (line === 'stop') void Promise.all([server.close(), natsServer?.close()]).then(() => process.exit(0));
  });
}

interface Result {
  mibPerSecond?: number;
  perSecond?: number;
  serverRssMiB?: number;
  clientRssMiB?: number;
}

async function bench(): Promise<void> {
  const volume = Number(args.get('volume-mib') ?? 1024) * 1024 * 1024;
  const seconds = Number(args.get('seconds') ?? 3);
  const rounds = Number(args.get('rounds') ?? 3);
  const natsd: NatsServer | undefined = args.has('no-nats') ? undefined : await startNats();
  holdHeap();
  const serveArgs = ['--serve', ...(args.has('window') ? [`--window=${args.get('window')}`] : []), ...(args.has('max-window') ? [`--max-window=${args.get('max-window')}`] : []), ...(args.has('heap-mib') ? [`--heap-mib=${args.get('heap-mib')}`] : []), ...(natsd === undefined ? [] : [`--nats=${natsd.url}`])];
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...serveArgs], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const nextJson = async (): Promise<Record<string, unknown>> => JSON.parse(((await lines.next()).value as string) ?? 'null') as Record<string, unknown>;
  const { address, natsAddress, raw } = (await nextJson()) as { address: string; natsAddress?: string; raw: number };
  const tell = (command: string): void => void child.stdin!.write(`${command}\n`);
  const rss = new RssWatch();
  const client = new Client({ transport: tcp(), registry: staticRegistry({ Pour: [address] }), schemas, codecs: [protobufCodec({ schemas })], timeout: 0, ...windowOptions() });
  const pour = new PourClient(client);
  const natsClient = natsAddress === undefined ? undefined : new Client({ transport: nats(), registry: staticRegistry({ Pour: [natsAddress] }), schemas, codecs: [protobufCodec({ schemas })], timeout: 0, ...windowOptions() });
  const natsPour = natsClient === undefined ? undefined : new PourClient(natsClient);

  /** Runs one transfer with both sides' RSS watched. */
  const measured = async (run: () => Promise<number>): Promise<Result> => {
    tell('reset');
    await new Promise((resolve) => setTimeout(resolve, 50));
    rss.reset();
    const started = performance.now();
    const bytes = await run();
    const elapsed = (performance.now() - started) / 1000;
    tell('rss');
    const server = (await nextJson()) as { rssGrowthMiB: number };
    return { mibPerSecond: bytes / 1024 / 1024 / elapsed, serverRssMiB: server.rssGrowthMiB, clientRssMiB: rss.growthMiB() };
  };

  const rawRun = (): Promise<number> =>
    new Promise((resolve, reject) => {
      let bytes = 0;
      const socket = net.connect(raw, '127.0.0.1', () => socket.write(`${volume}\n`));
      socket.on('data', (chunk) => (bytes += chunk.length));
      socket.on('end', () => resolve(bytes));
      socket.on('error', reject);
    });
  const downRun = async (over: PourClient = pour): Promise<number> => {
    let bytes = 0;
    for await (const block of over.blocks({ count: volume / BLOCK, size: BLOCK })) bytes += block.data.length;
    return bytes;
  };
  const upRun = async (over: PourClient = pour): Promise<number> => {
    const data = new Uint8Array(BLOCK);
    function* blocks() {
      for (let i = 0; i < volume / BLOCK; i++) yield { data };
    }
    return (await over.sink(blocks())).bytes;
  };
  const ticks = async (): Promise<Result> => {
    let count = 0;
    const stop = performance.now() + seconds * 1000;
    const started = performance.now();
    for await (const tick of pour.ticks({ count: 1e9, size: 0 })) {
      if (tick.n !== count) throw new Error(`tick ${count} arrived as ${tick.n}: out of order or lost`);
      // Checked every 1024 messages: the clock is not free either.
      if ((++count & 1023) === 0 && performance.now() >= stop) break;
    }
    return { perSecond: count / ((performance.now() - started) / 1000) };
  };
  const unary = async (): Promise<Result> => {
    let count = 0;
    const stop = performance.now() + seconds * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        while (performance.now() < stop) {
          await pour.ping({ n: count });
          count++;
        }
      }),
    );
    return { perSecond: count / ((performance.now() - started) / 1000) };
  };

  // Warm-up: a little of each, so the rounds measure compiled code.
  await downRun();
  if (natsPour !== undefined && (runs('natsDown') || runs('natsUp'))) await downRun(natsPour);
  const results: Record<string, Result[]> = { raw: [], down: [], up: [], ticks: [], unary: [], natsDown: [], natsUp: [] };
  for (let round = 0; round < rounds; round++) {
    if (runs('raw')) results.raw!.push(await measured(rawRun));
    if (runs('down')) results.down!.push(await measured(() => downRun()));
    if (runs('up')) results.up!.push(await measured(() => upRun()));
    if (runs('ticks')) results.ticks!.push(await ticks());
    if (runs('unary')) results.unary!.push(await unary());
    if (natsPour !== undefined) {
      if (runs('natsDown')) results.natsDown!.push(await measured(() => downRun(natsPour)));
      if (runs('natsUp')) results.natsUp!.push(await measured(() => upRun(natsPour)));
    }
    process.stderr.write(`round ${round + 1}/${rounds} done\n`);
  }
  tell('stop');
  await client.close();
  await natsClient?.close();
  // The server process leaves NATS before the nats-server stops.
  if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
  await natsd?.stop();

  const median = (values: number[]): number => (values.length === 0 ? NaN : [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!);
  const of = (name: string, key: keyof Result): number => median(results[name]!.map((r) => r[key] as number));
  const rawMib = of('raw', 'mibPerSecond');
  const unaryRate = of('unary', 'perSecond');
  const transfer = (name: string): string[] => [`${of(name, 'mibPerSecond').toFixed(0)} MiB/s`, `${((100 * of(name, 'mibPerSecond')) / rawMib).toFixed(0)} % of raw`, `${of(name, 'serverRssMiB').toFixed(1)} / ${of(name, 'clientRssMiB').toFixed(1)}`];
  const rows: string[][] = [];
  /** A row of the table, for a transfer that ran (--only and --no-nats leave some out). */
  const row = (name: string, cells: () => string[]): void => {
    if (results[name]!.length > 0) rows.push(cells());
  };
  row('raw', () => ['raw socket, 64 KiB frames', `${rawMib.toFixed(0)} MiB/s`, '', `${of('raw', 'serverRssMiB').toFixed(1)} / ${of('raw', 'clientRssMiB').toFixed(1)}`]);
  row('down', () => ['server stream, 64 KiB messages (server → client)', `${of('down', 'mibPerSecond').toFixed(0)} MiB/s`, `${((100 * of('down', 'mibPerSecond')) / rawMib).toFixed(0)} % of raw (target ≥ 70 %)`, `${of('down', 'serverRssMiB').toFixed(1)} / ${of('down', 'clientRssMiB').toFixed(1)}`]);
  row('up', () => ['client stream, 64 KiB messages (client → server)', `${of('up', 'mibPerSecond').toFixed(0)} MiB/s`, `${((100 * of('up', 'mibPerSecond')) / rawMib).toFixed(0)} % of raw (target ≥ 70 %)`, `${of('up', 'serverRssMiB').toFixed(1)} / ${of('up', 'clientRssMiB').toFixed(1)}`]);
  row('ticks', () => ['server stream, small messages', `${of('ticks', 'perSecond').toFixed(0)} msg/s`, `${(of('ticks', 'perSecond') / unaryRate).toFixed(1)} × unary (target ≥ 3 ×)`, '']);
  row('unary', () => ['unary calls, same message, C = 100', `${unaryRate.toFixed(0)} calls/s`, '', '']);
  row('natsDown', () => ['NATS server stream, 64 KiB messages (server → client)', ...transfer('natsDown')]);
  row('natsUp', () => ['NATS client stream, 64 KiB messages (client → server)', ...transfer('natsUp')]);
  const table = [
    `Streams over TCP${natsPour === undefined ? '' : ' (and NATS, through a nats-server on loopback)'}, window ${(windowOption() ?? DEFAULT_STREAM_WINDOW) / 1024} KiB growing to ${(Number(args.get('max-window') ?? 0) || Math.max(DEFAULT_MAX_STREAM_WINDOW, windowOption() ?? 0)) / 1024} KiB, ${Number(args.get('heap-mib') ?? 32)} MiB of live data in each process, ${volume / 1024 / 1024} MiB per transfer, ${seconds} s for the rates, medians of ${rounds} rounds (Node ${process.version}):`,
    '',
    '| what | rate | against | RSS growth MiB srv / cli |',
    '| --- | ---: | --- | ---: |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  console.log(table);
  const out = args.get('out');
  if (out !== undefined) {
    mkdirSync(out, { recursive: true });
    writeFileSync(`${out}/streams.json`, JSON.stringify({ volume, seconds, rounds, results }, null, 2));
    writeFileSync(`${out}/streams.md`, `${table}\n`);
  }
}

if (args.has('serve')) await serve();
else await bench();
