// The demo: a Logs and Files server and two clients, each a process of its own, over TCP.
//   - `tail` follows the server's log (a server stream), prints 10 lines and leaves: the stream
//     is cancelled on the wire and the server's generator closes its file (its finally runs);
//   - `upload` sends 32 MiB in 64 KiB chunks (a client stream) with progress, as fast as the
//     server's credit allows, and checks the digest the server computed.
//   node dist/demo.js [MiB to upload, default 32]
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const mib = process.argv[2] ?? '32';

/** Starts a process of this example, echoing its output, and hands each JSON line to `onJson`. */
function start(script: string, args: string[], onJson: (value: Record<string, unknown>) => void): ChildProcess {
  const child = spawn(process.execPath, [here(script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('{')) onJson(JSON.parse(line) as Record<string, unknown>);
    else console.log(line);
  });
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
}

const tailEnded: string[] = [];
let resolveAddress!: (address: string) => void;
const addressKnown = new Promise<string>((resolve) => (resolveAddress = resolve));
const server = start('./server.js', [], (value) => {
  if (typeof value.address === 'string') resolveAddress(value.address);
  if (typeof value.tailEnded === 'string') tailEnded.push(value.tailEnded);
});
const summary: Record<string, unknown> = {};
try {
  const address = await Promise.race([addressKnown, exited(server).then(() => Promise.reject(new Error('the server exited before it listened')))]);
  console.log(`[demo] server at ${address}`);
  const tail = start('./tail.js', [address, '10', '3'], (value) => Object.assign(summary, value));
  await exited(tail);
  // The server tells how the tail ended once its generator's finally ran.
  for (let i = 0; i < 100 && tailEnded.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  summary.tailEnded = tailEnded[0] ?? 'not told';
  console.log(`[demo] the server's tail: ${summary.tailEnded as string}`);
  const upload = start('./upload.js', [address, mib], (value) => Object.assign(summary, value));
  await exited(upload);
} finally {
  server.kill('SIGTERM');
  const stopped = await Promise.race([exited(server), new Promise((resolve) => setTimeout(() => resolve('timeout'), 5_000))]);
  if (stopped === 'timeout') server.kill('SIGKILL');
}
console.log(JSON.stringify(summary));
const ok = summary.tailed === 10 && String(summary.tailEnded).includes('cancelled by the client') && summary.digestMatches === true && summary.uploaded === Number(mib) * 1024 * 1024;
console.log(ok ? '[demo] ok: the tail left early and the server closed its file; the upload arrived whole' : '[demo] FAILED');
process.exitCode = ok ? 0 : 1;
