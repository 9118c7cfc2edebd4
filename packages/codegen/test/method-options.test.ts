import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MethodSchema } from '@svc/core';
import { Generator, runCli } from '../src/index.js';
import { tempProject } from './helpers.js';

// @Method({ idempotent, timeout }) reaches the descriptor; a timeout that is not a literal is
// evaluated as far as svc-gen simply can, and left out with a warning where it cannot.
const limits = (slow: string): string => `export const SECOND = 1_000;
export const SLOW = ${slow};
export enum Limits {
  Quick = 90,
}
export const TIMEOUTS = { fast: 120 } as const;
`;

const options = `import { Method, Service } from '@svc/core';
import { Limits, SLOW, TIMEOUTS } from './limits.js';
import * as limits from './limits.js';

const LOCAL = 750;
const timeout = 640;
const IDEMPOTENT = true;
let mutable = 100;
let flag: boolean = Math.random() > 0.5;
const CONFIG = { t: 100 };
const fromCall = Math.max(1, 2);

@Service('Opts')
export class Opts {
  @Method() async plain(): Promise<void> {}
  @Method({ idempotent: true }) async idem(): Promise<void> {}
  @Method({ idempotent: false, timeout: 250 }) async literal(): Promise<void> {}
  @Method({ timeout: 5_000 }) async separators(): Promise<void> {}
  @Method({ timeout: LOCAL }) async local(): Promise<void> {}
  @Method({ timeout: SLOW }) async imported(): Promise<void> {}
  @Method({ timeout: limits.SECOND * 2 }) async namespaced(): Promise<void> {}
  @Method({ timeout: Limits.Quick }) async enumMember(): Promise<void> {}
  @Method({ timeout: TIMEOUTS.fast }) async asConst(): Promise<void> {}
  @Method({ timeout }) async shorthand(): Promise<void> {}
  @Method({ timeout: (1 + 2) * 100 }) async arithmetic(): Promise<void> {}
  @Method({ timeout: 1.5 }) async fraction(): Promise<void> {}
  @Method({ idempotent: IDEMPOTENT, timeout: 0 }) async zero(): Promise<void> {}
  @Method({ timeout: undefined }) async unset(): Promise<void> {}
  @Method({ timeout: -5 }) async negative(): Promise<void> {}
  @Method({ timeout: 1 / 0 }) async infinite(): Promise<void> {}
  @Method({ timeout: fromCall }) async call(): Promise<void> {}
  @Method({ timeout: mutable }) async letVariable(): Promise<void> {}
  @Method({ timeout: CONFIG.t }) async mutableProperty(): Promise<void> {}
  @Method({ idempotent: flag }) async unknownFlag(): Promise<void> {}
}

export function touch(): void {
  mutable++;
  flag = !flag;
}
`;

const project = tempProject({ 'src/limits.ts': limits('3 * SECOND'), 'src/opts.ts': options });
afterAll(() => project.remove());

const byName = (methods: readonly MethodSchema[]): Record<string, Omit<MethodSchema, 'name' | 'request' | 'response'>> =>
  Object.fromEntries(methods.map(({ name, request: _request, response: _response, ...rest }) => [name, rest]));

describe('@Method({ idempotent, timeout })', () => {
  const generator = new Generator({ tsconfig: project.tsconfig });
  const result = generator.generate();
  const output = result.services.find((s) => s.draft.name === 'Opts')!;

  it('writes idempotent when true and timeout when a positive finite number, evaluating constants', () => {
    expect(byName(output.schema.methods)).toEqual({
      plain: {},
      idem: { idempotent: true },
      literal: { timeout: 250 },
      separators: { timeout: 5000 },
      local: { timeout: 750 },
      imported: { timeout: 3000 },
      namespaced: { timeout: 2000 },
      enumMember: { timeout: 90 },
      asConst: { timeout: 120 },
      shorthand: { timeout: 640 },
      arithmetic: { timeout: 300 },
      fraction: { timeout: 1.5 },
      zero: { idempotent: true },
      unset: {},
      negative: {},
      infinite: {},
      call: {},
      letVariable: {},
      mutableProperty: {},
      unknownFlag: {},
    });
  });

  it('writes them into the descriptor module, one method a line', () => {
    const descriptor = output.files.find((f) => f.path.endsWith('opts.descriptor.ts'))!.content;
    expect(descriptor).toContain('    {"name":"idem","request":null,"response":null,"idempotent":true},\n');
    expect(descriptor).toContain('    {"name":"imported","request":null,"response":null,"timeout":3000},\n');
    expect(descriptor).toContain('    {"name":"plain","request":null,"response":null},\n');
  });

  it('warns about each value it leaves out, with where and what to write', () => {
    const warnings = result.warnings.map((w) => w.message);
    expect(warnings).toEqual([
      "src/opts.ts:29:22 Opts.negative: the timeout -5 is not a positive finite number of milliseconds, so the schema leaves it out (the server still applies the decorator's value). Write a positive number of milliseconds, or no timeout for none",
      expect.stringMatching(/^src\/opts\.ts:30:22 Opts\.infinite: the timeout 1 \/ 0 \(Infinity\) is not a positive finite number of milliseconds, so/),
      "src/opts.ts:31:22 Opts.call: svc-gen cannot evaluate the timeout fromCall to a number, so the schema leaves it out (the server still applies the decorator's value). Write a number literal (timeout: 5_000), a const of one (const TIMEOUT = 5_000), or a product of those (5 * SECOND)",
      expect.stringMatching(/^src\/opts\.ts:32:22 Opts\.letVariable: svc-gen cannot evaluate the timeout mutable to a number, so/),
      expect.stringMatching(/^src\/opts\.ts:33:22 Opts\.mutableProperty: svc-gen cannot evaluate the timeout CONFIG\.t to a number, so/),
      "src/opts.ts:34:25 Opts.unknownFlag: svc-gen cannot tell whether idempotent (flag) is true, so the schema does not mark the method idempotent and clients will not retry it once it was processed. Write idempotent: true (or a const of the literal true)",
    ]);
  });

  it('prints the warnings and still writes, exit 0; --check passes with them', async () => {
    const err: string[] = [];
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    expect(await runCli(['-p', project.tsconfig], io)).toBe(0);
    expect(err.join('\n')).toMatch(/^svc-gen: 6 warnings:\n {2}src\/opts\.ts:29:22 Opts\.negative: /);
    expect(out.join('\n')).toContain('files written');
    err.length = 0;
    expect(await runCli(['-p', project.tsconfig, '--check'], io)).toBe(0);
    expect(err.join('\n')).toContain('svc-gen: 6 warnings:');
  });

  it('leaves the lock alone: idempotent and timeout are not wire numbering', () => {
    const lockText = readFileSync(join(project.root, 'svc.lock.json'), 'utf8');
    expect(lockText).not.toMatch(/idempotent|timeout/);
    project.write('src/opts.ts', options.replace('@Method() async plain()', '@Method({ idempotent: true, timeout: 9 }) async plain()').replace('@Method({ idempotent: true }) async idem()', '@Method() async idem()'));
    const again = new Generator({ tsconfig: project.tsconfig }).generate();
    expect(again.lockText).toBe(lockText);
    expect(again.changes).toEqual([]);
    const methods = byName(again.services[0]!.schema.methods);
    expect(methods.plain).toEqual({ idempotent: true, timeout: 9 });
    expect(methods.idem).toEqual({});
    project.write('src/opts.ts', options);
  });

  it('regenerates a service when a constant its timeout comes from changes (--watch)', () => {
    const watched = new Generator({ tsconfig: project.tsconfig });
    watched.generate();
    project.write('src/limits.ts', limits('4 * SECOND'));
    const updated = watched.update([join(project.root, 'src/limits.ts')]);
    expect(updated.regenerated).toEqual(['Opts']);
    expect(byName(updated.services[0]!.schema.methods).imported).toEqual({ timeout: 4000 });
    project.write('src/limits.ts', limits('3 * SECOND'));
  });

  it('marks idempotent methods in the .proto and the client, and timeouts as comments', () => {
    const proto = output.files.find((f) => f.path.endsWith('opts.proto'))!.content;
    expect(proto).toContain('  rpc idem (google.protobuf.Empty) returns (google.protobuf.Empty) {\n    option idempotency_level = IDEMPOTENT;\n  }\n');
    expect(proto).toContain('  rpc zero (google.protobuf.Empty) returns (google.protobuf.Empty) {\n    option idempotency_level = IDEMPOTENT;\n  }\n');
    expect(proto).toContain('  rpc literal (google.protobuf.Empty) returns (google.protobuf.Empty); // timeout: 250 ms\n');
    expect(proto).toContain('  rpc plain (google.protobuf.Empty) returns (google.protobuf.Empty);\n');
    const client = output.files.find((f) => f.path.endsWith('opts.client.ts'))!.content;
    expect(client).toContain('  /** Opts.idem (idempotent) — src/opts.ts:16 */\n  idem(options?: CallOptions<void>): Promise<void> {\n');
    expect(client).toContain('  /** Opts.literal (timeout 250 ms) — src/opts.ts:17 */\n');
  });
});
