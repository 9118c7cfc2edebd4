// A Logs and Files server over TCP, in a process of its own. An "application" in this process
// appends a line to the log every 20 ms, which `Logs.tail` follows; uploads are stored in a temp
// directory. Prints its address, then how each tail ended, as JSON lines on stdout.
//   node dist/server.js [port, default 0: any free one]
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { protobufCodec, Server } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { Files } from './files.js';
import { Logs } from './logs.js';
import { schemas } from './generated/index.js';

const port = Number(process.argv[2] ?? 0);
const directory = await mkdtemp(join(tmpdir(), 'svc-streams-'));
const logPath = join(directory, 'app.log');
await writeFile(logPath, '');
let line = 0;
const writer = setInterval(() => void appendFile(logPath, `${new Date().toISOString()} request ${++line} served\n`), 20);

const logs = new Logs(logPath);
const server = new Server({ transport: tcp(), schemas, codecs: [protobufCodec({ schemas })] }).register(logs).register(new Files(directory));
const address = await server.listen(`tcp://127.0.0.1:${port}`);
console.log(JSON.stringify({ address, directory }));

// Tell the demo how each tail ended, as it happens (the generator's finally pushed it).
let told = 0;
const teller = setInterval(() => {
  while (told < logs.ended.length) console.log(JSON.stringify({ tailEnded: logs.ended[told++] }));
}, 20);

async function stop(): Promise<void> {
  clearInterval(writer);
  clearInterval(teller);
  await server.close();
  await rm(directory, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
