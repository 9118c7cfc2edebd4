// The NATS cluster demo: three Greeter processes and this client, over a 3-node NATS cluster.
//   1. calls spread over the three instances (NATS queue group);
//   2. a NATS node killed (-9) while calls go on: no call fails, the processes that were on it
//      (a Greeter and a client) reconnect to the other nodes, and once it is started again the
//      cluster heals;
//   3. one instance stopped under traffic: no call fails, the KV registry drops it;
//   4. an event to one instance (group) and an event to all (broadcast).
// Starts its own cluster on free ports, or uses $NATS_URL (one server, or several of one cluster
// separated by commas); step 2 then only runs on a cluster it started itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, type RpcError } from '@svc/core';
import { formatAddress, nats, natsRegistry, parseAddress } from '@svc/transport-nats';
import type { HelloReply } from './greeter.js';
import { NatsCluster } from './nats-cluster.js';

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

async function until(condition: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function startInstance(urls: readonly string[], name: string): Instance {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./server.js', import.meta.url)), formatAddress(urls), name], { stdio: ['ignore', 'pipe', 'inherit'] });
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

/** Calls from `callers` loops, each after the other's previous one settled, until `stop()`. */
function traffic(client: Client, callers: number): { ok: number; failures: string[]; by: Map<string, number>; stop(): Promise<void> } {
  const t = { ok: 0, failures: [] as string[], by: new Map<string, number>(), stop: async () => {} };
  let flowing = true;
  const loops = Array.from({ length: callers }, async () => {
    for (let n = 0; flowing && n < 100_000; n++) {
      await client.invoke<HelloReply>('Greeter', 'hello', { name: 'traffic' }).then(
        (r) => {
          t.ok++;
          t.by.set(r.instance, (t.by.get(r.instance) ?? 0) + 1);
        },
        (e: RpcError) => t.failures.push(`${e.code}: ${e.message}`),
      );
      await sleep(5);
    }
  });
  t.stop = async () => {
    flowing = false;
    await Promise.all(loops);
  };
  return t;
}

const own = process.env.NATS_URL ? undefined : await NatsCluster.start(3);
const given = process.env.NATS_URL ? parseAddress(process.env.NATS_URL).servers : [];
/** The NATS URLs for a process near node i: its node first, then the others to reconnect to. */
const urlsFrom = (i: number): string[] => (own ? own.urlsFrom(i % own.size) : given);
console.log(own ? `NATS: a 3-node cluster started for this demo, ${urlsFrom(0).join(', ')}\n` : `NATS at ${given.join(', ')}\n`);

// greeter-1 on node-0 (as this client), greeter-2 on node-1, greeter-3 on node-2.
const instances = ['greeter-1', 'greeter-2', 'greeter-3'].map((name, i) => startInstance(urlsFrom(i), name));
const registry = natsRegistry({ servers: urlsFrom(0), name: 'demo-registry' });
const client = new Client({ transport: nats({ servers: urlsFrom(0), name: 'demo-client' }), registry, eventAddress: formatAddress(urlsFrom(0)), timeout: 2_000 });
const closers: (() => Promise<void>)[] = [];

try {
  for (const i of instances) console.log(`${i.name} listening at ${await i.address}`);
  await registry.ready();
  check('the registry lists three Greeter instances', await until(() => registry.instances('Greeter').length === 3, 5_000));
  for (const i of registry.instances('Greeter')) console.log(`    registry: ${i.service} ${i.version} ${i.address} ${JSON.stringify(i.tags)}`);
  // One logical address per list of NATS servers: each instance lists its own node first.
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

  if (own === undefined) console.log('\n2. (skipped: the demo kills only nodes of a NATS cluster it started; unset NATS_URL)');
  else {
    // The registry bucket has one replica (the registry's default): the node that holds it is
    // the one node discovery cannot lose (docs/deployment.md), so the demo kills another one.
    const bucketNode = await own.streamLeader('KV_svc_registry');
    const v = bucketNode === 0 ? 1 : 0;
    const node = own.nodeName(v);
    const greeter = instances[v]!.name;
    console.log(`\n2. NATS ${node} (${greeter}'s) is killed (-9) while calls keep coming`);
    console.log(`    the registry bucket is on ${bucketNode === undefined ? '?' : own.nodeName(bucketNode)}, with one replica`);
    // A client next to the victim: every instance's own address (the registry's instances mode)
    // and failover between them. hello is idempotent (@Method), so a call the dead node took may
    // run again elsewhere; an attempt it swallowed is cut after 500 ms (attemptTimeout), as
    // nothing else ends it.
    const byInstance = natsRegistry({ servers: urlsFrom(v), mode: 'instances', name: 'demo-registry-instances' });
    const failover = new Client({
      transport: nats({ servers: urlsFrom(v), name: 'demo-failover-client' }),
      registry: byInstance,
      timeout: 2_000,
      services: { Greeter: { methods: { hello: { idempotent: true } } } },
      failMode: { mode: 'failover', attemptTimeout: 500 },
      retryBudget: { maxTokens: 20 },
    });
    closers.push(() => failover.close(), () => byInstance.close());
    await byInstance.ready();
    await until(() => byInstance.instances('Greeter').length === 3, 5_000);
    const load = traffic(failover, 4);
    await sleep(300);
    const names = [...instances.map((i) => i.name), 'demo-failover-client'];
    const where = async (): Promise<string> => {
      const at = await own.placement();
      return names.map((n) => `${n} on ${at.get(n) ?? '?'}`).join(', ');
    };
    console.log(`    before: ${await where()}`);
    const okBefore = load.ok;
    const killedAt = Date.now();
    await own.kill(v);
    const moved = await until(async () => {
      const at = await own.placement();
      return [greeter, 'demo-failover-client'].every((n) => at.has(n) && at.get(n) !== node);
    }, 5_000);
    console.log(`    ${Date.now() - killedAt} ms later: ${await where()}`);
    const answeredBefore = load.by.get(greeter) ?? 0;
    await sleep(1_000);
    const answeredAfter = (load.by.get(greeter) ?? 0) - answeredBefore;
    const health = await own.restart(v);
    console.log(`    ${node} restarted: ${health.map((h) => `${h.name} ${h.healthy ? 'healthy' : 'NOT healthy'}, ${h.routes} routes`).join('; ')}; JetStream meta leader ${health[0]?.leader}`);
    await sleep(300);
    await load.stop();
    console.log(`    ${load.ok} calls succeeded (${load.ok - okBefore} after the kill), ${load.failures.length} failed${load.failures.length ? `: ${load.failures[0]}` : ''}`);
    check('no call failed while a NATS node died', load.failures.length === 0 && load.ok > okBefore);
    check(`${greeter} and the client reconnected to the other nodes`, moved);
    check(`${greeter} answered again from its new node`, answeredAfter > 0);
    check('the restarted node rejoined: three healthy nodes, each routed to both others', health.length === 3 && health.every((h) => h.healthy && h.routes === 2));
    check('the registry still lists three Greeter instances', await until(() => registry.instances('Greeter').length === 3, 5_000));
  }

  console.log('\n3. greeter-2 stops while calls keep coming');
  const victim = instances[1]!;
  const load = traffic(client, 4);
  await sleep(200);
  const stoppedAt = Date.now();
  await stop(victim);
  const dropped = await until(() => !registry.instances('Greeter').some((i) => i.tags?.instance === 'greeter-2'), 5_000);
  console.log(`    registry dropped greeter-2 ${Date.now() - stoppedAt} ms after the stop began`);
  await sleep(200);
  await load.stop();
  console.log(`    ${load.ok} calls succeeded during the stop, ${load.failures.length} failed${load.failures.length ? `: ${load.failures[0]}` : ''}`);
  check('no call failed while an instance stopped', load.failures.length === 0 && load.ok > 0);
  check('the registry dropped the stopped instance', dropped && registry.instances('Greeter').length === 2);
  const after = await Promise.all(Array.from({ length: 10 }, () => client.invoke<HelloReply>('Greeter', 'hello', { name: 'after' })));
  check('later calls go to the two others', after.every((r) => r.instance !== 'greeter-2'));

  console.log('\n4. events');
  const live = instances.filter((i) => i !== victim);
  const seen = (text: string): number => live.filter((i) => i.lines.some((l) => l.includes(text))).length;
  await client.publish('news.published', { title: 'svc 0.1 is out' });
  await sleep(500);
  check("'news.published' (group) reached exactly one instance", seen('event news.published: svc 0.1 is out') === 1);
  await client.publish('config.reload', { key: 'limits' });
  await until(() => seen('event config.reload: limits') === 2, 3_000);
  check("'config.reload' (broadcast) reached every instance", seen('event config.reload: limits') === 2);
} catch (error) {
  check(`the demo ran through (${(error as Error).message})`, false);
} finally {
  for (const close of closers) await close();
  await client.close();
  await registry.close();
  await Promise.all(instances.map(stop));
  await own?.stop();
}

const failed = checks.filter(([, ok]) => !ok).length;
console.log(failed === 0 ? `\nDemo finished: all ${checks.length} checks passed.` : `\nDemo FAILED: ${failed} of ${checks.length} checks failed.`);
process.exit(failed === 0 ? 0 : 1);
