import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** An @svc server in a child process (test/fixtures/echo-process.mjs, which runs on dist/). */
export class EchoProcess {
  readonly child: ChildProcess;
  readonly address: Promise<string>;

  constructor(natsUrl: string, name: string, ttl: number) {
    const script = fileURLToPath(new URL('./fixtures/echo-process.mjs', import.meta.url));
    this.child = spawn(process.execPath, [script, natsUrl, name, String(ttl)], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.address = new Promise((resolve, reject) => {
      let out = '';
      this.child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n')) resolve((JSON.parse(line!) as { address: string }).address);
      });
      this.child.once('exit', (code) => reject(new Error(`echo process exited with ${code} before serving`)));
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    process.kill(this.child.pid!, signal);
    return gone;
  }
}
