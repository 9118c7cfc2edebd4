// The storefront: calls the shop in another process, with telemetry. Usage: node dist/client.js <address>
import { Client, RpcError, staticRegistry } from '@svc/core';
import { startTelemetry } from '@svc/telemetry';
import { tcp } from '@svc/transport-tcp';

const address = process.argv[2];
if (address === undefined) throw new Error('usage: node dist/client.js <shop address>');

const telemetry = await startTelemetry({ serviceName: 'storefront' });
const client = new Client({ transport: tcp(), registry: staticRegistry({ Shop: [address] }), ...telemetry.clientFilters() });

for (const order of [
  { item: 'tea', qty: 2 },
  { item: 'cake', qty: 1 },
]) {
  try {
    const { left } = await client.invoke<{ left: number }>('Shop', 'checkout', order);
    console.log(`[storefront] checkout ${order.qty} ${order.item}: ok, ${left} left`);
  } catch (error) {
    const e = RpcError.from(error);
    console.log(`[storefront] checkout ${order.qty} ${order.item}: ${e.code}: ${e.message}`);
  }
}

await client.close();
await telemetry.shutdown(); // flushes this process's spans before it exits
