#!/usr/bin/env node
// `pnpm test`: checks that committed generated code is what svc-gen makes of the sources today
// (before the build regenerates it), builds everything, runs every package's tests through turbo
// (one package at a time, so timing-sensitive network tests do not compete for the 2 cores), then
// prints one closing line "N passed, N failed, N skipped" summed over the vitest JSON reports.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const workspaces = ['packages', 'examples', 'tools'];

function packageDirs() {
  const dirs = [];
  for (const ws of workspaces) {
    const out = spawnSync('ls', [join(root, ws)], { encoding: 'utf8' });
    for (const name of out.stdout.split('\n').filter(Boolean)) dirs.push(join(root, ws, name));
  }
  return dirs;
}

// Reports from an earlier run must not count: turbo restores them from its cache when it skips a run.
for (const dir of packageDirs()) rmSync(join(dir, 'test-results.json'), { force: true });

const pnpm = (args) => spawnSync('pnpm', args, { cwd: root, stdio: 'inherit' }).status ?? 1;
const run = (args) => pnpm(['exec', 'turbo', ...args]);
const generatedFresh = pnpm(['run', 'gen:check']) === 0;
if (!generatedFresh) console.log('\nsvc-gen --check failed: regenerate with `pnpm gen` and commit src/generated and svc.lock.json');
const built = run(['run', 'build', '--output-logs=errors-only']);
const tested = built === 0 ? run(['run', 'test', '--concurrency=1', '--continue', ...process.argv.slice(2)]) : built;

let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
for (const dir of packageDirs()) {
  const file = join(dir, 'test-results.json');
  if (!existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests + (report.numFailedTestSuites ?? 0);
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  rows.push(`${dir.slice(root.length)}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`);
}
console.log(`\n${rows.join('\n')}`);
if (passed + failed === 0) {
  console.log('no test reports found: did the build fail?');
  failed = 1;
}
if (!generatedFresh) failed += 1; // the generated-code check counts as one failed test
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(tested !== 0 || failed > 0 ? 1 : 0);
