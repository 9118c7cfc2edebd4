// The NATS cluster demo: three Greeter processes and this client, over one NATS server.
//   1. calls spread over the three instances (NATS queue group);
//   2. one instance stopped under traffic: no call fails, the KV registry drops it;
//   3. an event to one instance (group) and an event to all (broadcast).
// Uses $NATS_URL when set, else starts its own nats-server on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, type RpcError } from '@svc/core';
import { nats, natsRegistry } from '@svc/transport-nats';
import type { HelloReply } from './greeter.js';
import { startNatsServer } from './nats-server.js';

interface Instance {
  name: string;
  child: ChildProcess;
  lines: string[];
  address: Promise<string>;
}

const checks: [string, boolean][] = [];
function check(what: string, ok: boolean): void {
  checks.push([what, ok]);
  console.log(`${ok ? '  ok  ' : '  FAIL'} ${what}`);
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

function startInstance(url: string, name: string): Instance {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./server.js', import.meta.url)), url, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const address = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) resolve((JSON.parse(line) as { listening: string }).listening);
      else {
        lines.push(line);
        console.log(`    ${line}`);
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  address.catch(() => {});
  return { name, child, lines, address };
}

function stop(instance: Instance): Promise<void> {
  if (instance.child.exitCode !== null) return Promise.resolve();
  const gone = new Promise<void>((resolve) => instance.child.once('exit', () => resolve()));
  instance.child.kill('SIGTERM');
  return gone;
}

const own = process.env.NATS_URL ? undefined : await startNatsServer();
const url = process.env.NATS_URL ?? own!.url;
console.log(`NATS at ${url}${own ? ' (started for this demo)' : ''}\n`);

const instances = ['greeter-1', 'greeter-2', 'greeter-3'].map((name) => startInstance(url, name));
const registry = natsRegistry({ servers: url });
const client = new Client({ transport: nats(), registry, eventAddress: url, timeout: 2_000 });

try {
  for (const i of instances) console.log(`${i.name} listening at ${await i.address}`);
  await registry.ready();
  check('the registry lists three Greeter instances', await until(() => registry.instances('Greeter').length === 3, 5_000));
  for (const i of registry.instances('Greeter')) console.log(`    registry: ${i.service} ${i.version} ${i.address} ${JSON.stringify(i.tags)}`);
  console.log(`    client lookup (group mode): ${JSON.stringify((await registry.lookup('Greeter')).map((n) => n.address))}`);

  console.log('\n1. 30 calls through the queue group, one after another');
  // Calls made in the same tick travel together (up to 16 per NATS message) and so reach the same
  // instance; calls made one after another are spread one by one.
  const counts = new Map<string, number>();
  for (let n = 0; n < 30; n++) {
    const r = await client.invoke<HelloReply>('Greeter', 'hello', { name: `call ${n}` });
    counts.set(r.instance, (counts.get(r.instance) ?? 0) + 1);
  }
  console.log(`    answered by: ${[...counts].sort().map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  check('calls spread over all three instances', counts.size === 3);

  console.log('\n2. greeter-2 stops while calls keep coming');
  const victim = instances[1]!;
  let ok = 0;
  const failures: string[] = [];
  let flowing = true;
  const traffic = (async () => {
    for (let n = 0; flowing && n < 10_000; n++) {
      await Promise.all(
        Array.from({ length: 4 }, () =>
          client.invoke<HelloReply>('Greeter', 'hello', { name: 'during stop' }).then(
            () => ok++,
            (e: RpcError) => failures.push(`${e.code}: ${e.message}`),
          ),
        ),
      );
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await new Promise((r) => setTimeout(r, 200));
  const stoppedAt = Date.now();
  await stop(victim);
  const dropped = await until(() => !registry.instances('Greeter').some((i) => i.tags?.instance === 'greeter-2'), 5_000);
  console.log(`    registry dropped greeter-2 ${Date.now() - stoppedAt} ms after the stop began`);
  await new Promise((r) => setTimeout(r, 200));
  flowing = false;
  await traffic;
  console.log(`    ${ok} calls succeeded during the stop, ${failures.length} failed${failures.length ? `: ${failures[0]}` : ''}`);
  check('no call failed while an instance stopped', failures.length === 0 && ok > 0);
  check('the registry dropped the stopped instance', dropped && registry.instances('Greeter').length === 2);
  const after = await Promise.all(Array.from({ length: 10 }, () => client.invoke<HelloReply>('Greeter', 'hello', { name: 'after' })));
  check('later calls go to the two others', after.every((r) => r.instance !== 'greeter-2'));

  console.log('\n3. events');
  const live = instances.filter((i) => i !== victim);
  const seen = (text: string): number => live.filter((i) => i.lines.some((l) => l.includes(text))).length;
  await client.publish('news.published', { title: 'svc 0.1 is out' });
  await new Promise((r) => setTimeout(r, 500));
  check("'news.published' (group) reached exactly one instance", seen('event news.published: svc 0.1 is out') === 1);
  await client.publish('config.reload', { key: 'limits' });
  await until(() => seen('event config.reload: limits') === 2, 3_000);
  check("'config.reload' (broadcast) reached every instance", seen('event config.reload: limits') === 2);
} catch (error) {
  check(`the demo ran through (${(error as Error).message})`, false);
} finally {
  await client.close();
  await registry.close();
  await Promise.all(instances.map(stop));
  await own?.stop();
}

const failed = checks.filter(([, ok]) => !ok).length;
console.log(failed === 0 ? `\nDemo finished: all ${checks.length} checks passed.` : `\nDemo FAILED: ${failed} of ${checks.length} checks failed.`);
process.exit(failed === 0 ? 0 : 1);
