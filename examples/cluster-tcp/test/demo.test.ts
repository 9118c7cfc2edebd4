import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

it('three servers, a failover client, one server killed with SIGKILL: no call fails', () => {
  // 2 s of calls, the kill, 3 s more.
  const run = spawnSync(process.execPath, [here('../dist/demo.js'), '2', '3'], { encoding: 'utf8', timeout: 60_000 });
  const out = run.stdout + run.stderr;
  expect(out).toMatch(/kill -9 server-b/);
  const summary = JSON.parse(out.split('\n').find((line) => line.startsWith('{"ok"')) ?? 'null') as { ok: number; failed: number; byServer: Record<string, number> } | null;
  expect(summary, out).not.toBeNull();
  expect(summary!.failed, out).toBe(0);
  expect(summary!.ok).toBeGreaterThan(1_000);
  // The survivors took the traffic after the kill.
  expect(summary!.byServer['server-a']).toBeGreaterThan(0);
  expect(summary!.byServer['server-c']).toBeGreaterThan(0);
  expect(out).toContain('Demo finished');
  expect(run.status, out).toBe(0);
});

it('the committed generated client and lock file are what svc-gen makes of src/ today', () => {
  const cli = here('../node_modules/@svc/codegen/bin/svc-gen.js');
  const run = spawnSync(process.execPath, [cli, '--check'], { cwd: here('..'), encoding: 'utf8', timeout: 60_000 });
  expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
});
