import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

it('a log tail left early cancels the server side, and an upload with progress arrives whole, each a process of its own', () => {
  const run = spawnSync(process.execPath, [here('../dist/demo.js'), '16'], { encoding: 'utf8', timeout: 60_000 });
  const out = run.stdout + run.stderr;
  // Ten lines, numbered in order, the first three of them from before the tail started.
  const numbers = [...out.matchAll(/\[tail\] (\d+): /g)].map((m) => Number(m[1]));
  expect(numbers, out).toHaveLength(10);
  expect(numbers.every((n, i) => i === 0 || n === numbers[i - 1]! + 1), out).toBe(true);
  // The server's generator ran its finally because the client left.
  expect(out).toMatch(/the server's tail: \d+ lines sent, cancelled by the client/);
  // Progress was reported as the chunks went, and the digest matched.
  expect(out).toMatch(/\[upload\] 50 %/);
  expect(out).toMatch(/stored upload\.bin: 16777216 bytes .* digest matches/);
  expect(out).toMatch(/\[demo\] ok/);
  expect(run.status, out).toBe(0);
});
