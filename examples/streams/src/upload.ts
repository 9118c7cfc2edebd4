// Uploads a file of `mib` MiB (made up here, random bytes) in 64 KiB chunks, printing progress as
// the server's credit lets each chunk go, and checks the server's digest against its own.
//   node dist/upload.js <address> [mib, default 32]
import { createHash, randomBytes } from 'node:crypto';
import { Client, protobufCodec, staticRegistry } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { FilesClient, schemas } from './generated/index.js';
import type { Chunk } from './files.js';

const [address, mib = '32'] = process.argv.slice(2);
if (address === undefined) throw new Error('usage: upload.js <address> [mib]');
const total = Number(mib) * 1024 * 1024;
const CHUNK = 64 * 1024;
const client = new Client({ transport: tcp(), registry: staticRegistry({ Files: [address] }), schemas, codecs: [protobufCodec({ schemas })] });
const files = new FilesClient(client);
const hash = createHash('sha256');
const started = performance.now();
let sent = 0;
let reported = 0;

/** The chunks, made as the stream asks for them: the generator runs only as fast as the server reads. */
async function* chunks(): AsyncGenerator<Chunk> {
  while (sent < total) {
    const data = randomBytes(Math.min(CHUNK, total - sent));
    hash.update(data);
    yield sent === 0 ? { name: 'upload.bin', data } : { data };
    sent += data.length;
    const percent = Math.floor((100 * sent) / total);
    if (percent >= reported + 25) {
      reported = percent - (percent % 25);
      console.log(`[upload] ${reported} % (${(sent / 1024 / 1024).toFixed(1)} MiB)`);
    }
  }
}

try {
  const stored = await files.upload(chunks(), { timeout: 60_000 });
  const seconds = (performance.now() - started) / 1000;
  const sha256 = hash.digest('hex');
  console.log(`[upload] stored ${stored.name}: ${stored.bytes} bytes in ${seconds.toFixed(2)} s (${(stored.bytes / 1024 / 1024 / seconds).toFixed(0)} MiB/s), digest ${stored.sha256 === sha256 ? 'matches' : 'DIFFERS'}`);
  console.log(JSON.stringify({ uploaded: stored.bytes, digestMatches: stored.sha256 === sha256 }));
} finally {
  await client.close();
}
