import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('examples/nats-cluster', () => {
  it('runs the demo: three instances over a 3-node NATS cluster, a node killed under traffic, every check passes', () => {
    // The demo starts its own cluster on free ports (never the machine's shared NATS).
    const env = { ...process.env };
    delete env.NATS_URL;
    const run = spawnSync(process.execPath, [fileURLToPath(new URL('../dist/demo.js', import.meta.url))], { encoding: 'utf8', timeout: 90_000, env });
    const out = run.stdout + run.stderr;
    expect(out).toContain('answered by: greeter-1');
    // The node kill: nothing failed, the victim's Greeter and the client moved, the node came back.
    expect(out).toMatch(/NATS node-\d \(greeter-\d's\) is killed \(-9\)/);
    expect(out).toMatch(/\d+ calls succeeded \(\d+ after the kill\), 0 failed/);
    expect(out).toMatch(/node-\d restarted: node-0 healthy, 2 routes; node-1 healthy, 2 routes; node-2 healthy, 2 routes/);
    expect(out).toMatch(/registry dropped greeter-2 \d+ ms/);
    expect(out).toMatch(/\[greeter-\d\] event news\.published: svc 0\.1 is out/);
    expect(out).toContain('Demo finished: all 12 checks passed.');
    expect(run.status).toBe(0);
  }, 100_000);
});
