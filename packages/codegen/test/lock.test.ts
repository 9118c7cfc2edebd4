import { execFileSync } from 'node:child_process';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/index.js';
import { PROTOC, tempProject } from './helpers.js';

const service = (fields: string, colors = "'red' | 'green'", extra = ''): string => `import { Method, Service, type int32 } from '@svc/core';

export type Color = ${colors};

export interface Args {
${fields}
}

@Service('Shop')
export class Shop {
  @Method() async buy(args: Args): Promise<{ ok: boolean; color: Color }> {
    return { ok: true, color: 'red' };
  }
${extra}}
`;
const STOP = `  @Method() async stop(): Promise<void> {}\n`;

const project = tempProject({ 'src/shop.ts': service('  a: string;\n  b: int32;\n  c: boolean;', "'red' | 'green'", STOP) });
afterAll(() => project.remove());

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['-p', project.tsconfig, ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
const proto = (): string => readFileSync(join(project.root, 'src/generated/shop.proto'), 'utf8');
const lock = (): { services: { Shop: { messages: { Args: { fields: Record<string, { no: number }> } } } } } =>
  JSON.parse(readFileSync(join(project.root, 'svc.lock.json'), 'utf8'));

// The steps build on each other, in order: one project through its history.
describe('svc.lock.json and --check', () => {
  it('first run numbers fields in declaration order and writes the lock', async () => {
    expect((await cli()).code).toBe(0);
    expect(proto()).toContain('  string a = 1;\n  int32 b = 2;\n  bool c = 3;');
    expect(lock().services.Shop.messages.Args.fields).toEqual({ a: { no: 1, type: 'string' }, b: { no: 2, type: 'int32' }, c: { no: 3, type: 'bool' } });
    expect(await cli('--check')).toMatchObject({ code: 0, out: expect.stringContaining('up to date') });
  });

  it('reordering keeps every number; a new field gets the next one', async () => {
    project.write('src/shop.ts', service('  c: boolean;\n  d: number;\n  a: string;\n  b: int32;', "'red' | 'green'", STOP));
    const check = await cli('--check');
    expect(check.code).toBe(1);
    expect(check.err).toMatch(/stale\s+.*src\/generated\/shop\.proto/);
    expect(check.err).not.toContain('BREAKING');
    const run = await cli();
    expect(run.code).toBe(0);
    expect(run.out).toContain('Shop.Args.d: new field, number 4');
    expect(proto()).toContain('  bool c = 3;\n  double d = 4;\n  string a = 1;\n  int32 b = 2;');
  });

  it('a removed field is reserved, and its number is never reused', async () => {
    project.write('src/shop.ts', service('  c: boolean;\n  d: number;\n  a: string;\n  e: string;', "'red' | 'green'", STOP));
    const run = await cli();
    expect(run.code).toBe(0);
    expect(run.out).toContain('Shop.Args.b: field removed; number 2 and the name are reserved');
    expect(proto()).toContain('message Args {\n  reserved 2;\n  reserved "b";\n');
    expect(proto()).toContain('  string e = 5;');
    expect((await cli('--check')).code).toBe(0);
  });

  it('a retyped field is a breaking change: --check fails, svc-gen refuses, --allow-breaking records it', async () => {
    project.write('src/shop.ts', service('  c: boolean;\n  d: number;\n  a: number;\n  e: string;', "'red' | 'green'", STOP));
    const check = await cli('--check');
    expect(check.code).toBe(1);
    expect(check.err).toContain('BREAKING Shop.Args.a: type changed from string to double');
    expect(check.err).toContain('src/shop.ts:5');
    const before = proto();
    const refused = await cli();
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('nothing was written');
    expect(proto()).toBe(before);
    expect((await cli('--allow-breaking')).code).toBe(0);
    expect(proto()).toContain('  double a = 6;');
    expect(proto()).toContain('  reserved 1, 2;');
    expect((await cli('--check')).code).toBe(0);
  });

  it('a removed enum value and a removed method are reported as breaking', async () => {
    project.write('src/shop.ts', service('  c: boolean;\n  d: number;\n  a: number;\n  e: string;', "'red'"));
    const check = await cli('--check');
    expect(check.code).toBe(1);
    expect(check.err).toContain('BREAKING Shop.Color.COLOR_GREEN: enum value removed');
    expect(check.err).toContain('BREAKING Shop.stop: method removed');
    expect((await cli('--allow-breaking')).code).toBe(0);
    expect(proto()).toMatch(/enum Color \{\n {2}reserved 2;\n {2}reserved "COLOR_GREEN";/);
    // Adding a value later never takes the removed value's number.
    project.write('src/shop.ts', service('  c: boolean;\n  d: number;\n  a: number;\n  e: string;', "'red' | 'blue'"));
    expect((await cli()).code).toBe(0);
    expect(proto()).toContain('  COLOR_BLUE = 3;');
  });

  it('the .proto with reserved fields and values still compiles with protoc', () => {
    const out = execFileSync(PROTOC, [`-I${join(project.root, 'src/generated')}`, '-I/usr/include', '--descriptor_set_out=/dev/null', 'shop.proto'], { stdio: 'pipe' });
    expect(out.toString()).toBe('');
    expect(proto()).toMatch(/reserved 1, 2;/);
  });

  it('refuses a lock in which one number belongs to two fields (a bad merge)', async () => {
    const path = join(project.root, 'svc.lock.json');
    const good = readFileSync(path, 'utf8');
    const lockJson = JSON.parse(good);
    lockJson.services.Shop.messages.Args.fields.e.no = 3;
    writeFileSync(path, JSON.stringify(lockJson));
    const run = await cli('--check');
    expect(run.code).toBe(1);
    expect(run.err).toContain('svc.lock.json: Shop.Args: number 3 is given to both c and e');
    writeFileSync(path, good);
  });

  it('names each stale, missing and extra generated file', async () => {
    const generated = join(project.root, 'src/generated');
    writeFileSync(join(generated, 'shop.proto'), proto().replace('double a = 6', 'double a = 7'));
    unlinkSync(join(generated, 'shop.client.ts'));
    writeFileSync(join(generated, 'old.proto'), '// @generated by svc-gen — do not edit\n');
    const check = await cli('--check');
    expect(check.code).toBe(1);
    expect(check.err).toMatch(/stale\s+\S*shop\.proto/);
    expect(check.err).toMatch(/missing\s+\S*shop\.client\.ts/);
    expect(check.err).toMatch(/extra\s+\S*old\.proto/);
    expect((await cli()).code).toBe(0);
    expect((await cli('--check')).code).toBe(0);
  });
});

describe('numeric TS enums in the lock', () => {
  const enumProject = tempProject({ 'src/e.ts': "import { Method, Service } from '@svc/core';\n\nexport enum Level {\n  Low = 1,\n  High = 2,\n}\n\n@Service('Levels')\nexport class Levels {\n  @Method() async set(args: { level: Level }): Promise<void> {}\n}\n" });
  afterAll(() => enumProject.remove());
  const run = async (...args: string[]): Promise<{ code: number; err: string }> => {
    const err: string[] = [];
    const code = await runCli(['-p', enumProject.tsconfig, ...args], { out: () => {}, err: (l) => err.push(l) });
    return { code, err: err.join('\n') };
  };

  it('keeps their own numbers, and reports reusing the number of a removed member', async () => {
    expect((await run()).code).toBe(0);
    enumProject.write('src/e.ts', readFileSync(join(enumProject.root, 'src/e.ts'), 'utf8').replace('  High = 2,\n', ''));
    expect((await run('--allow-breaking')).code).toBe(0);
    enumProject.write('src/e.ts', readFileSync(join(enumProject.root, 'src/e.ts'), 'utf8').replace('  Low = 1,\n', '  Low = 1,\n  Mid = 2,\n'));
    const refused = await run();
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('BREAKING Levels.Level.LEVEL_MID: reuses number 2, reserved since LEVEL_HIGH was removed');
    expect((await run('--allow-breaking')).code).toBe(0);
    expect((await run('--check')).code).toBe(0);
    expect(readFileSync(join(enumProject.root, 'src/generated/levels.proto'), 'utf8')).toContain('  LEVEL_MID = 2;');
  });
});
