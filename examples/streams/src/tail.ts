// Follows the server's log: prints lines as they come, then leaves after `count` of them, which
// cancels the stream on the wire (the server's generator closes its file in its finally).
//   node dist/tail.js <address> [count, default 10] [last, default 3]
import { Client, protobufCodec, staticRegistry } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { LogsClient, schemas } from './generated/index.js';

const [address, count = '10', last = '3'] = process.argv.slice(2);
if (address === undefined) throw new Error('usage: tail.js <address> [count] [last]');
const client = new Client({ transport: tcp(), registry: staticRegistry({ Logs: [address] }), schemas, codecs: [protobufCodec({ schemas })] });
const logs = new LogsClient(client);
let seen = 0;
try {
  for await (const line of logs.tail({ last: Number(last) }, { timeout: 30_000 })) {
    console.log(`[tail] ${line.n}: ${line.text}`);
    if (++seen >= Number(count)) break; // leaving the loop cancels the stream
  }
} finally {
  await client.close();
}
console.log(JSON.stringify({ tailed: seen }));
