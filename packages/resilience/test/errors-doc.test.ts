import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as resilienceErrors from '../src/resilience-errors.js';

const docs = ['resilience.md', 'auth.md'].map((name) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8')).join('\n');

describe('docs/resilience.md and docs/auth.md list the errors', () => {
  it('mention every error maker of resilience-errors.ts', () => {
    for (const name of Object.keys(resilienceErrors)) {
      if (name === 'pushback') continue; // metadata, not an error
      expect(docs, `docs/resilience.md or docs/auth.md should mention ${name}`).toContain(`\`${name}\``);
    }
  });
});
