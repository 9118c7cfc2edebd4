// The client: finds the Inventory servers in etcd (watched, cached by the client), calls
// Inventory.stock in a loop with failover, prints a running count every second and every change
// of the set the etcd watch gives it. Usage:
//   ETCD_ENDPOINTS=http://127.0.0.1:2379 node dist/client.js [seconds, default 0: until SIGINT or SIGTERM]
// Ends with one JSON line (ok, failed, by server, when each server joined and left the set, its
// first answer and last attempt) and exits 1 if any call failed. FAIL_MODE=failfast (or another
// fail mode) replaces failover, to see the difference.
import { Client, observingAttemptFilter, outlierEjection, peakEwma, RpcError, type FailMode, type Registry, type ServiceNode } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { etcdFromEnv } from './discovery.js';
import { InventoryClient, schemas } from './generated/index.js';

const seconds = Number(process.argv[2] ?? 0);

/** Calls in flight at once: each loop makes its next call when its previous one is answered. */
const LOOPS = 4;

const started = Date.now();
const at = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const nameOf = (node: ServiceNode): string => node.tags?.name ?? node.address;

// What the etcd watch hands the client's cache: printed, and when each server joined and left.
const joined: Record<string, number> = {};
const left: Record<string, number> = {};
let current = new Set<string>();
/** The servers of the watch's first delivery; a first answer from any other one is printed. */
let initial: Set<string> | undefined;
function seen(nodes: readonly ServiceNode[]): void {
  const now = Date.now();
  const names = new Set(nodes.map(nameOf));
  const changes = [...[...names].filter((n) => !current.has(n)).map((n) => `${n} joined`), ...[...current].filter((n) => !names.has(n)).map((n) => `${n} left`)];
  for (const n of names) if (!current.has(n)) joined[n] = now;
  for (const n of current) if (!names.has(n)) left[n] = now;
  current = names;
  const first = initial === undefined;
  initial ??= names;
  if (!first && changes.length === 0) return; // the same list again
  const list = names.size === 0 ? 'no Inventory server' : [...names].sort().join(', ');
  console.log(`[client] ${at()}: etcd watch: ${list}${first ? '' : ` (${changes.join(', ')})`}`);
}

const etcd = etcdFromEnv();
const registry: Registry = {
  lookup: (service) => etcd.lookup(service),
  watch: (service, listener) =>
    etcd.watch(service, (nodes) => {
      seen(nodes);
      listener(nodes);
    }),
};

// Every attempt, by server: when the last one was sent, how many failed (and were retried elsewhere).
const lastAttempt: Record<string, number> = {};
const failedAttempts: Record<string, number> = {};
const countAttempts = observingAttemptFilter(async (attempt, next) => {
  const name = nameOf(attempt.node);
  lastAttempt[name] = Date.now();
  try {
    return await next();
  } catch (error) {
    failedAttempts[name] = (failedAttempts[name] ?? 0) + 1;
    throw error;
  }
});

const client = new Client({
  transport: tcp(),
  // A registry with watch: the client follows Inventory with it and answers calls from memory.
  registry,
  // P2C by latency and load, minus nodes whose last 5 attempts failed (set aside for 30 s, at most
  // half the list): a dead server stops getting calls after a few failed attempts, long before
  // its lease runs out; a new one costs 0 and gets a call at once.
  selector: outlierEjection(peakEwma()),
  // Inventory.stock is @Method({ idempotent: true }); the schema says so, and failover may then
  // retry a call on another server after a failure that may have reached the first one (a
  // connection lost with the server). Calls that never reached a server are retried in any mode.
  schemas,
  failMode: (process.env.FAIL_MODE as FailMode | undefined) ?? 'failover',
  attemptFilters: [countAttempts],
  timeout: 2_000,
});
const inventory = new InventoryClient(client);

let ok = 0;
let failed = 0;
let afterFailover = 0;
const byServer: Record<string, number> = {};
const firstAnswer: Record<string, number> = {};
const failures: Record<string, number> = {};
let running = true;

async function loop(n: number): Promise<void> {
  for (let i = 0; running; i++) {
    const sku = `sku-${n}-${i % 100}`;
    try {
      const level = await inventory.stock({ sku });
      ok++;
      if (byServer[level.server] === undefined) {
        firstAnswer[level.server] = Date.now();
        if (initial !== undefined && !initial.has(level.server)) console.log(`[client] ${at()}: first answer from ${level.server}`);
      }
      byServer[level.server] = (byServer[level.server] ?? 0) + 1;
      if (level.attempt > 1) afterFailover++;
    } catch (error) {
      failed++;
      const what = error instanceof RpcError ? `${error.code} (${error.progress}): ${error.message}` : String(error);
      failures[what] = (failures[what] ?? 0) + 1;
      await new Promise((resolve) => setTimeout(resolve, 10)); // no busy loop while everything fails
    }
  }
}

let lastOk = 0;
const ticker = setInterval(() => {
  const servers = Object.entries(byServer)
    .sort()
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  console.log(`[client] ${Math.round((Date.now() - started) / 1000)} s: ok ${ok} (+${ok - lastOk}/s), failed ${failed}, retried elsewhere ${afterFailover}; by server: ${servers}`);
  lastOk = ok;
}, 1_000);

const stop = (): void => {
  running = false;
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
if (seconds > 0) setTimeout(stop, seconds * 1000);

await Promise.all(Array.from({ length: LOOPS }, (_, n) => loop(n)));
clearInterval(ticker);
await client.close();
await etcd.close();
for (const [what, n] of Object.entries(failures)) console.log(`[client] failed ${n}×: ${what}`);
console.log(JSON.stringify({ ok, failed, afterFailover, byServer, joined, left, firstAnswer, lastAttempt, failedAttempts }));
process.exit(failed === 0 ? 0 : 1);
