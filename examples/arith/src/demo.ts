// The demo: starts the server and the client as two processes over TCP, prints what they say.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

const server = spawn(process.execPath, [here('./server.js'), 'tcp://127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const address = await new Promise<string>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('the server did not start within 10 s')), 10_000);
  createInterface({ input: server.stdout! }).on('line', (line) => {
    if (line.startsWith('{')) {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { listening: string }).listening);
    } else {
      console.log(line);
    }
  });
  server.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
});

const client = spawn(process.execPath, [here('./client.js'), address], { stdio: 'inherit' });
const clientCode = await new Promise<number>((resolve) => client.once('exit', (code) => resolve(code ?? 1)));

server.kill('SIGTERM');
const serverCode = await new Promise<number>((resolve) => server.once('exit', (code) => resolve(code ?? 1)));
console.log(clientCode === 0 && serverCode === 0 ? '\nDemo finished: every call answered as expected.' : '\nDemo FAILED.');
process.exit(clientCode === 0 && serverCode === 0 ? 0 : 1);
