import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

it('the demo runs server and client as two processes and every call answers as expected', () => {
  const run = spawnSync(process.execPath, [here('../dist/demo.js')], { encoding: 'utf8', timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toContain('Arith.mul(6, 7) = 42');
  expect(run.stdout).toContain('"tenant":"acme"');
  expect(run.stdout).toMatch(/Arith.div\(1, 0\) failed: INVALID_ARGUMENT/);
  expect(run.stdout).toMatch(/DEADLINE_EXCEEDED/);
  expect(run.stdout).toMatch(/refused by the server: INVALID_ARGUMENT: Arith.mul: request.a expected a number/);
  expect(run.stdout).not.toContain('FAIL');
  expect(run.stdout).toContain('Demo finished');
});

it('the committed generated client and lock file are what svc-gen makes of src/ today', () => {
  const cli = here('../node_modules/@svc/codegen/bin/svc-gen.js');
  const run = spawnSync(process.execPath, [cli, '--check'], { cwd: here('..'), encoding: 'utf8', timeout: 60_000 });
  expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
});
