// The demo: a collector here, the shop and the storefront as two more processes over TCP. Both
// export their spans by the standard OTEL_* variables; the demo prints the trees they make.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Collector } from './collector.js';
import { traceTrees } from './trace-tree.js';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const collector = new Collector();
const endpoint = await collector.start();
const env = {
  ...process.env,
  OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  OTEL_METRICS_EXPORTER: 'none', // the shop's metrics are scraped from its Prometheus endpoint
  OTEL_LOGS_EXPORTER: 'none',
};

const server = spawn(process.execPath, [here('./server.js'), 'tcp://127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'], env });
const logLines: string[] = [];
const { listening, metrics } = await new Promise<{ listening: string; metrics: string }>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('the shop did not start within 10 s')), 10_000);
  createInterface({ input: server.stdout! }).on('line', (line) => {
    const parsed = JSON.parse(line) as { listening?: string; metrics?: string; msg?: string };
    if (parsed.listening !== undefined) {
      clearTimeout(timer);
      resolve(parsed as { listening: string; metrics: string });
    } else {
      logLines.push(line); // the shop's pino lines
    }
  });
  server.once('exit', (code) => reject(new Error(`the shop exited with ${code}`)));
});

const client = spawn(process.execPath, [here('./client.js'), listening], { stdio: 'inherit', env });
const clientCode = await new Promise<number>((resolve) => client.once('exit', (code) => resolve(code ?? 1)));

const scraped = await (await fetch(metrics)).text();
server.kill('SIGTERM'); // the shop flushes its spans as it stops
const serverCode = await new Promise<number>((resolve) => server.once('exit', (code) => resolve(code ?? 1)));
await collector.close();

console.log('\nThe shop logged (pino, with the ids of the span it was in):');
for (const line of logLines) {
  const { msg, trace_id, span_id } = JSON.parse(line) as { msg: string; trace_id?: string; span_id?: string };
  console.log(`  ${msg}  trace_id=${trace_id} span_id=${span_id}`);
}
console.log('\nTraces, as a collector got them from both processes:');
console.log(traceTrees(collector.spans));
console.log('\nThe shop\'s Prometheus endpoint says (calls by method and status):');
for (const line of scraped.split('\n')) if (line.startsWith('rpc_server_call_duration_count')) console.log(`  ${line.replace(/,otel_scope_[a-z]+="[^"]*"/g, '')}`);

const crossed = collector.spans.some((s) => s.service === 'shop' && collector.spans.some((p) => p.spanId === s.parentSpanId && p.service === 'storefront'));
const ok = clientCode === 0 && serverCode === 0 && crossed;
console.log(ok ? '\nDemo finished: one trace per checkout, across both processes.' : '\nDemo FAILED.');
process.exit(ok ? 0 : 1);
