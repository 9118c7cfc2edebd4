// The client: calls Inventory.stock in a loop over the three servers, with failover, and prints a
// running count every second. Usage:
//   node dist/client.js <seconds, 0 for until SIGINT> <address> <address> <address>
// Ends with one JSON line (ok, failed, by server, answered after a failed first try) and exits 1 if any
// call failed. FAIL_MODE=failfast (or another fail mode) replaces failover, to see the difference.
import { Client, RpcError, staticRegistry, type FailMode } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { InventoryClient, schemas } from './generated/index.js';

const [seconds, ...addresses] = process.argv.slice(2);
if (addresses.length === 0) {
  console.error('usage: node dist/client.js <seconds> <address>...');
  process.exit(2);
}

/** Calls in flight at once: each loop makes its next call when its previous one is answered. */
const LOOPS = 4;

const client = new Client({
  transport: tcp(),
  registry: staticRegistry({ Inventory: addresses }),
  // Inventory.stock is @Method({ idempotent: true }); the schema says so, and failover may then
  // retry a call on another server after a failure that may have reached the first one (a
  // connection lost with the server). Calls that never reached a server are retried in any mode.
  schemas,
  failMode: (process.env.FAIL_MODE as FailMode | undefined) ?? 'failover',
  timeout: 2_000,
});
const inventory = new InventoryClient(client);

let ok = 0;
let failed = 0;
let afterFailover = 0;
const byServer: Record<string, number> = {};
const failures: Record<string, number> = {};
let running = true;

async function loop(n: number): Promise<void> {
  for (let i = 0; running; i++) {
    const sku = `sku-${n}-${i % 100}`;
    try {
      const level = await inventory.stock({ sku });
      ok++;
      byServer[level.server] = (byServer[level.server] ?? 0) + 1;
      if (level.attempt > 1) afterFailover++;
    } catch (error) {
      failed++;
      const what = error instanceof RpcError ? `${error.code} (${error.progress}): ${error.message}` : String(error);
      failures[what] = (failures[what] ?? 0) + 1;
    }
  }
}

const started = Date.now();
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
if (Number(seconds) > 0) setTimeout(stop, Number(seconds) * 1000);

await Promise.all(Array.from({ length: LOOPS }, (_, n) => loop(n)));
clearInterval(ticker);
await client.close();
for (const [what, n] of Object.entries(failures)) console.log(`[client] failed ${n}×: ${what}`);
console.log(JSON.stringify({ ok, failed, afterFailover, byServer }));
process.exit(failed === 0 ? 0 : 1);
