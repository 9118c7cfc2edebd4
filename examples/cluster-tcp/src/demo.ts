// The demo: three Inventory servers and one client, each a process of its own, over TCP. After a
// few seconds one server is killed with SIGKILL (no goodbye: its connections just drop, with
// calls in flight); the client, with failover, goes on counting successes and no failures.
//   node dist/demo.js [seconds before the kill, default 3] [seconds after it, default 4]
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const before = Number(process.argv[2] ?? 3);
const after = Number(process.argv[3] ?? 4);

interface Summary {
  ok: number;
  failed: number;
  afterFailover: number;
  byServer: Record<string, number>;
}

/** Starts a process and prints its lines; resolves the first JSON line it prints. */
function start(args: string[]): { child: ChildProcess; json: Promise<unknown> } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const json = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) resolve(JSON.parse(line));
      else console.log(line);
    });
    child.once('exit', (code, signal) => reject(new Error(`${args[0]} exited (${signal ?? code}) before it said what it had to`)));
  });
  json.catch(() => {});
  return { child, json };
}

const servers = ['server-a', 'server-b', 'server-c'].map((name) => ({ name, ...start([here('./server.js'), 'tcp://127.0.0.1:0', name]) }));
// Whatever happens, no server outlives the demo.
process.once('exit', () => servers.forEach((s) => s.child.kill('SIGKILL')));
const addresses = (await Promise.all(servers.map((s) => s.json))).map((j) => (j as { listening: string }).listening);

const client = start([here('./client.js'), String(before + after), ...addresses]);
await new Promise((resolve) => setTimeout(resolve, before * 1000));
const victim = servers[1]!;
console.log(`[demo] kill -9 ${victim.name} (pid ${victim.child.pid})`);
victim.child.kill('SIGKILL');

const summary = (await client.json) as Summary;
console.log(JSON.stringify(summary));
const clientCode = await new Promise<number>((resolve) => (client.child.exitCode !== null ? resolve(client.child.exitCode) : client.child.once('exit', (code) => resolve(code ?? 1))));
for (const s of servers) s.child.kill('SIGTERM');

const survivorsServed = servers.filter((s) => s !== victim).every((s) => (summary.byServer[s.name] ?? 0) > 0);
const passed = clientCode === 0 && summary.failed === 0 && summary.ok > 0 && survivorsServed;
console.log(
  passed
    ? `\nDemo finished: ${summary.ok} calls succeeded, none failed, ${summary.afterFailover} of them on another server after a first try failed; ${victim.name} was killed under traffic.`
    : `\nDemo FAILED: ${summary.failed} calls failed (client exit code ${clientCode}).`,
);
process.exit(passed ? 0 : 1);
