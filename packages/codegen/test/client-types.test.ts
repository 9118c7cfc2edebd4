import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CORPUS } from './helpers.js';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

describe('generated client types', () => {
  // The expectTypeOf assertions and @ts-expect-error lines live in the corpus
  // (src/client-types.ts); tsc fails on any that does not hold.
  it('compile with the project, and the expectTypeOf checks hold', () => {
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '--noEmit', '-p', join(CORPUS, 'tsconfig.json')], { stdio: 'pipe' });
    } catch (error) {
      output = String((error as { stdout?: Buffer }).stdout ?? error);
    }
    expect(output).toBe('');
  }, 60_000);
});
