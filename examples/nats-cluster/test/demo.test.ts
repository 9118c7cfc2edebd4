import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('examples/nats-cluster', () => {
  it('runs the demo: three instances over a real nats-server, every check passes', () => {
    // The demo starts its own nats-server on a free port (never the machine's shared one).
    const env = { ...process.env };
    delete env.NATS_URL;
    const run = spawnSync(process.execPath, [fileURLToPath(new URL('../dist/demo.js', import.meta.url))], { encoding: 'utf8', timeout: 60_000, env });
    const out = run.stdout + run.stderr;
    expect(out).toContain('answered by: greeter-1');
    expect(out).toMatch(/registry dropped greeter-2 \d+ ms/);
    expect(out).toMatch(/\[greeter-\d\] event news\.published: svc 0\.1 is out/);
    expect(out).toContain('Demo finished: all 7 checks passed.');
    expect(run.status).toBe(0);
  });
});
