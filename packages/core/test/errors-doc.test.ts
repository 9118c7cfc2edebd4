import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_CODES, CODE_NUMBERS, codeFromNumber } from '../src/errors/codes.js';
import { RpcError } from '../src/errors/rpc-error.js';
import * as frameworkErrors from '../src/errors/framework-errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

describe('docs/errors.md and the code list agree', () => {
  it('documents every code with its wire number, and no code that does not exist', () => {
    const rows = [...doc.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(\d+)\s*\|/gm)].map((m) => [m[1]!, Number(m[2])] as const);
    expect(new Map(rows)).toEqual(new Map(ALL_CODES.map((c) => [c, CODE_NUMBERS[c]])));
  });

  it('documents every error the framework raises', () => {
    for (const name of Object.keys(frameworkErrors)) expect(doc, `docs/errors.md should mention ${name}`).toContain(`\`${name}\``);
  });
});

describe('RpcError', () => {
  it('maps numbers both ways and unknown numbers to UNKNOWN', () => {
    for (const code of ALL_CODES) expect(codeFromNumber(CODE_NUMBERS[code])).toBe(code);
    expect(codeFromNumber(99)).toBe('UNKNOWN');
  });

  it('refuses a code that is not in the list', () => {
    expect(() => new RpcError('TEAPOT' as never, 'x')).toThrow(/not a status code/);
  });

  it('turns thrown values into RpcErrors without losing the message', () => {
    expect(RpcError.from(new Error('disk full'))).toMatchObject({ code: 'UNKNOWN', message: 'disk full' });
    expect(RpcError.from('plain')).toMatchObject({ code: 'UNKNOWN', message: 'plain' });
    const abort = new DOMException('stopped', 'AbortError');
    expect(RpcError.from(abort)).toMatchObject({ code: 'CANCELLED' });
    const original = new RpcError('NOT_FOUND', 'no such user', { details: { id: 1 } });
    expect(RpcError.from(original)).toBe(original);
  });

  it('marks UNAVAILABLE, RESOURCE_EXHAUSTED and ABORTED as retryable by default', () => {
    expect(ALL_CODES.filter((c) => new RpcError(c, '').retryable).sort()).toEqual(['ABORTED', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE']);
  });
});
