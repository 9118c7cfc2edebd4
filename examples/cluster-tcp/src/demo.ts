// The demo: Inventory servers and one client, each a process of its own, over TCP, finding each
// other in etcd. Three servers register themselves; the client follows them with an etcd watch
// and calls them with failover. Then:
//   - one server is killed with SIGKILL under traffic (no goodbye: its connections just drop,
//     with calls in flight, and its registration stays until its lease runs out): no call fails,
//     and the server leaves the client's set;
//   - a fourth server is started live: it registers, and the client's watch sees it and calls it.
// Starts its own etcd on free loopback ports (a temp data dir, stopped by its pid at the end), or
// uses a running one given by ETCD_ENDPOINTS (each run under a key prefix of its own).
//   node dist/demo.js [seconds before the kill, default 2] [from the kill to the new server, default 3] [after it, default 2]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LEASE_TTL_MS } from './discovery.js';
import { ETCD_BIN, EtcdProcess } from './etcd-process.js';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const [before, untilNew, after] = [2, 3, 2].map((fallback, i) => Number(process.argv[2 + i] ?? fallback)) as [number, number, number];
const sleep = (seconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

interface Summary {
  ok: number;
  failed: number;
  afterFailover: number;
  byServer: Record<string, number>;
  /** When each server joined and left the client's set (the etcd watch), ms since the epoch. */
  joined: Record<string, number>;
  left: Record<string, number>;
  firstAnswer: Record<string, number>;
  lastAttempt: Record<string, number>;
  failedAttempts: Record<string, number>;
}

// Whatever happens, no process of the demo's outlives it (etcd has its own exit handler).
const children = new Set<ChildProcess>();
const running = (child: ChildProcess): boolean => child.pid !== undefined && child.exitCode === null && child.signalCode === null;
/** Sends a signal by pid; a process that has just exited is no error. */
function signal(child: ChildProcess, name: NodeJS.Signals): void {
  try {
    if (running(child)) process.kill(child.pid!, name);
  } catch {
    // gone already
  }
}
process.once('exit', () => {
  for (const child of children) signal(child, 'SIGKILL');
});
for (const name of ['SIGINT', 'SIGTERM'] as const) {
  process.once(name, () => {
    console.log(`[demo] ${name}: every process of the demo is killed`);
    process.exit(130);
  });
}

/** Starts a process and prints its lines; resolves the first JSON line it prints. */
function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; json: Promise<unknown> } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  children.add(child);
  const json = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) resolve(JSON.parse(line));
      else console.log(line);
    });
    child.once('exit', (code, killedBy) => reject(new Error(`${args[0]} exited (${killedBy ?? code}) before it said what it had to`)));
  });
  json.catch(() => {});
  return { child, json };
}

/** SIGTERM by pid, and SIGKILL if it has not exited within 5 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (!running(child)) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  signal(child, 'SIGTERM');
  const timer = setTimeout(() => signal(child, 'SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}

const checks: [string, boolean][] = [];
function check(what: string, ok: boolean): void {
  checks.push([what, ok]);
  console.log(`[demo] ${ok ? 'ok' : 'FAILED'}: ${what}`);
}

let etcd: EtcdProcess | undefined;
let client: ReturnType<typeof start> | undefined;
const servers: { name: string; child: ChildProcess; json: Promise<unknown> }[] = [];
let passed = false;
let finished = '';
try {
  let hosts = process.env.ETCD_ENDPOINTS;
  if (hosts === undefined) {
    etcd = await EtcdProcess.start();
    hosts = etcd.url;
    console.log(`[demo] etcd (${ETCD_BIN}) on ${hosts}, pid ${etcd.pid}, a temp data dir`);
  } else console.log(`[demo] etcd at ${hosts} (ETCD_ENDPOINTS)`);
  const env = { ...process.env, ETCD_ENDPOINTS: hosts, ETCD_PREFIX: `/svc-examples/cluster-tcp/${randomBytes(4).toString('hex')}` };
  const startServer = (name: string) => {
    const server = { name, ...start([here('./server.js'), 'tcp://127.0.0.1:0', name], env) };
    servers.push(server);
    return server;
  };
  await Promise.all(['server-a', 'server-b', 'server-c'].map((name) => startServer(name).json));

  client = start([here('./client.js')], env); // until SIGTERM
  await sleep(before);
  const victim = servers[1]!;
  const killedAt = Date.now();
  console.log(`[demo] kill -9 ${victim.name} (pid ${victim.child.pid})`);
  signal(victim.child, 'SIGKILL');

  await sleep(untilNew);
  console.log('[demo] start server-d');
  const startedAt = Date.now();
  const newcomer = startServer('server-d');
  const { registeredAt } = (await newcomer.json) as { registeredAt: number };

  await sleep(after);
  await stop(client.child);
  const summary = (await client.json) as Summary;
  console.log(JSON.stringify(summary));
  const clientCode = client.child.exitCode;

  const { ok, failed, afterFailover, byServer, joined, left, firstAnswer, lastAttempt, failedAttempts } = summary;
  const ms = (t: number | undefined, from: number): string => (t === undefined ? 'never' : `${t - from} ms`);
  const first = ['server-a', 'server-b', 'server-c'];
  check(`before the kill, calls across three servers: ${first.map((n) => `${n} ${firstAnswer[n] !== undefined && firstAnswer[n] < killedAt ? 'answered' : 'did not answer'}`).join(', ')}`, first.every((n) => firstAnswer[n] !== undefined && firstAnswer[n] < killedAt));
  check(`no call failed: ${ok + failed} calls, ${failed} failed, ${afterFailover} answered on another server after a first try failed`, failed === 0 && ok > 0 && clientCode === 0);
  const b = victim.name;
  const leftAfter = left[b] === undefined ? Infinity : left[b] - killedAt;
  check(
    `${b} left the client's set ${ms(left[b], killedAt)} after the kill (lease ttl ${LEASE_TTL_MS / 1000} s); its last attempt was ${ms(lastAttempt[b], killedAt)} after the kill (${failedAttempts[b] ?? 0} attempts on it failed)`,
    // A lease expires at most its ttl after the last keep-alive; etcd revokes expired leases twice a
    // second, and the watch then tells the client: 1.5 s of slack, as tools/chaos allows.
    leftAfter <= LEASE_TTL_MS + 1_500 && (lastAttempt[b] ?? 0) <= left[b]!,
  );
  const d = newcomer.name;
  const answeredAfter = firstAnswer[d] === undefined ? Infinity : firstAnswer[d] - registeredAt;
  check(
    `${d} registered and got calls: in the client's set ${ms(joined[d], startedAt)} after its process started (node start-up, a lease and a put in etcd), first answer ${ms(firstAnswer[d], joined[d] ?? startedAt)} after that and ${ms(firstAnswer[d], registeredAt)} after its listen() resolved (registered); ${byServer[d] ?? 0} calls in ${after} s`,
    answeredAfter <= 1_000 && (byServer[d] ?? 0) > 0,
  );

  passed = checks.every(([, good]) => good);
  finished = passed
    ? `Demo finished: ${ok} calls succeeded, none failed (${afterFailover} on another server after a first try failed); ${b}, killed under traffic, left the set after ${leftAfter} ms; ${d}, started live, answered ${answeredAfter} ms after it registered.`
    : `Demo FAILED: ${checks.filter(([, good]) => !good).length} of ${checks.length} checks failed (${failed} calls failed, client exit code ${clientCode}).`;
} catch (error) {
  finished = `Demo FAILED: ${error instanceof Error ? error.message : String(error)}`;
} finally {
  if (client !== undefined) await stop(client.child);
  await Promise.all(servers.map((s) => stop(s.child)));
  await etcd?.stop();
}
console.log(`\n${finished}`);
process.exit(passed ? 0 : 1);
