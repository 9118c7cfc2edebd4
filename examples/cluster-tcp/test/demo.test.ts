import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

interface Summary {
  ok: number;
  failed: number;
  byServer: Record<string, number>;
  left: Record<string, number>;
  lastAttempt: Record<string, number>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('servers registered in etcd, a failover client on its watch: kill -9 one under traffic, start one live, no call fails', () => {
  // The demo starts its own etcd on free ports (never a running one), 2 s of calls, the kill,
  // 3 s, server-d, 2 s.
  const env = { ...process.env };
  delete env.ETCD_ENDPOINTS;
  delete env.FAIL_MODE;
  const run = spawnSync(process.execPath, [here('../dist/demo.js')], { encoding: 'utf8', timeout: 60_000, env });
  const out = run.stdout + run.stderr;
  expect(out).toMatch(/\[client\] [\d.]+ s: etcd watch: server-a, server-b, server-c\n/);
  expect(out).toMatch(/kill -9 server-b/);
  const summary = JSON.parse(out.split('\n').find((line) => line.startsWith('{"ok"')) ?? 'null') as Summary | null;
  expect(summary, out).not.toBeNull();
  // No call failed, and there were many.
  expect(summary!.failed, out).toBe(0);
  expect(summary!.ok).toBeGreaterThan(1_000);
  expect(out).toMatch(/\[demo\] ok: no call failed: \d+ calls, 0 failed/);
  // The killed server left the client's set (its lease ran out), and got no attempt afterwards.
  expect(out).toMatch(/etcd watch: server-a, server-c \(server-b left\)/);
  expect(summary!.left['server-b'], out).toBeGreaterThan(0);
  expect(summary!.lastAttempt['server-b']!).toBeLessThanOrEqual(summary!.left['server-b']!);
  expect(out).toMatch(/\[demo\] ok: server-b left the client's set \d+ ms after the kill/);
  // The server started live joined the set and got calls, within a second of registering.
  expect(out).toMatch(/etcd watch: server-a, server-c, server-d \(server-d joined\)/);
  expect(summary!.byServer['server-d']).toBeGreaterThan(0);
  expect(out).toMatch(/\[demo\] ok: server-d registered and got calls/);
  expect(out).toContain('[demo] ok: before the kill, calls across three servers');
  expect(out).not.toContain('FAILED');
  expect(out).toContain('Demo finished');
  expect(run.status, out).toBe(0);
  // Every process it started (etcd, the servers) is gone.
  const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
  expect(pids.length).toBeGreaterThanOrEqual(5);
  expect(pids.filter(alive), out).toEqual([]);
}, 90_000);

it('the committed generated client and lock file are what svc-gen makes of src/ today', () => {
  const cli = here('../node_modules/@svc/codegen/bin/svc-gen.js');
  const run = spawnSync(process.execPath, [cli, '--check'], { cwd: here('..'), encoding: 'utf8', timeout: 60_000 });
  expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
});
