// The Arith client. Usage: node dist/client.js [address]   (default tcp://127.0.0.1:8972)
import { Client, RpcError, staticRegistry } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import type { ArithArgs, ArithReply } from './arith.js';

const address = process.argv[2] ?? 'tcp://127.0.0.1:8972';
const client = new Client({ transport: tcp(), registry: staticRegistry({ Arith: [address] }), timeout: 2_000 });

let failures = 0;
function check(what: string, ok: boolean): void {
  console.log(`${ok ? '  ok ' : 'FAIL '} ${what}`);
  if (!ok) failures++;
}

const mul = await client.invoke<ArithReply>('Arith', 'mul', { a: 6, b: 7 } satisfies ArithArgs, {
  metadata: { tenant: 'acme' },
  onMetadata: (md) => console.log(`[client] metadata from the server: ${JSON.stringify(md)}`),
});
console.log(`[client] Arith.mul(6, 7) = ${mul.c}`);
check('mul', mul.c === 42);

const add = await client.invoke<ArithReply>('Arith', 'add', { a: 6, b: 7 });
console.log(`[client] Arith.add(6, 7) = ${add.c}`);
check('add', add.c === 13);

const div = await client.invoke<ArithReply>('Arith', 'div', { a: 1, b: 4 });
console.log(`[client] Arith.div(1, 4) = ${div.c}`);
check('div', div.c === 0.25);

try {
  await client.invoke('Arith', 'div', { a: 1, b: 0 });
  check('div by zero is refused', false);
} catch (error) {
  const e = error as RpcError;
  console.log(`[client] Arith.div(1, 0) failed: ${e.code}: ${e.message} ${JSON.stringify(e.details)}`);
  check('div by zero is refused with INVALID_ARGUMENT', e.code === 'INVALID_ARGUMENT');
}

try {
  await client.invoke('Arith', 'wait', { ms: 1_000 }, { timeout: 150 });
  check('timeout', false);
} catch (error) {
  const e = error as RpcError;
  console.log(`[client] Arith.wait(1000) with a 150 ms timeout: ${e.code}: ${e.message}`);
  check('a slow call times out with DEADLINE_EXCEEDED', e.code === 'DEADLINE_EXCEEDED');
}

const many = await Promise.all(Array.from({ length: 1_000 }, (_, i) => client.invoke<ArithReply>('Arith', 'mul', { a: i, b: 2 })));
check('1,000 concurrent calls on one connection', many.every((r, i) => r.c === i * 2));

await client.close();
process.exit(failures === 0 ? 0 : 1);
