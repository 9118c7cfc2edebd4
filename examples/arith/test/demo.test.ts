import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('the demo runs server and client as two processes and every call answers as expected', () => {
  const demo = fileURLToPath(new URL('../dist/demo.js', import.meta.url));
  const run = spawnSync(process.execPath, [demo], { encoding: 'utf8', timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toContain('Arith.mul(6, 7) = 42');
  expect(run.stdout).toContain('"tenant":"acme"');
  expect(run.stdout).toMatch(/Arith.div\(1, 0\) failed: INVALID_ARGUMENT/);
  expect(run.stdout).toMatch(/DEADLINE_EXCEEDED/);
  expect(run.stdout).not.toContain('FAIL');
  expect(run.stdout).toContain('Demo finished');
});
