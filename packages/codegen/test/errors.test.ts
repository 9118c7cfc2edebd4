import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CodegenFailure, Generator, runCli } from '../src/index.js';
import { PACKAGE_ROOT, tempProject } from './helpers.js';

// One method per unsupported type; svc-gen reports all of them in one run.
const project = tempProject({
  'src/bad.ts': `import { Method, Service } from '@svc/core';

export interface Item {
  when: () => void;
}

export interface Wide {
  /** @wire int64 */
  n: number;
}

export interface Named {
  s: string;
}

@Service('Bad')
export class Bad {
  @Method() async fn(args: { items: Item[] }): Promise<void> {}
  @Method() async anyField(args: { data: any }): Promise<void> {}
  @Method() async unknownField(args: { data: unknown }): Promise<void> {}
  @Method() async symbolField(args: { s: symbol }): Promise<void> {}
  @Method() async mixed(args: { v: string | number }): Promise<void> {}
  @Method() async tuple(args: { pair: [string, number] }): Promise<void> {}
  @Method() async nested(args: { grid: number[][] }): Promise<void> {}
  @Method() async holes(args: { xs: (string | null)[] }): Promise<void> {}
  @Method() async floatKey(args: { m: Map<number, string> }): Promise<void> {}
  @Method() async noTag(args: { shape: { r: number } | { side: number } }): Promise<void> {}
  @Method() async buffer(args: { b: Buffer }): Promise<void> {}
  @Method() async width(args: Wide): Promise<void> {}
  @Method() async returnsFn(): Promise<() => void> { return () => {}; }
}

@Service('Dup')
export class Dup {
  @Method() async both(args: { mine: Named; theirs: import('./other.js').Named }): Promise<void> {}
}
`,
  'src/other.ts': 'export interface Named {\n  t: string;\n}\n',
});
afterAll(() => project.remove());

describe('unsupported types', () => {
  let failure: CodegenFailure | undefined;
  try {
    new Generator({ tsconfig: project.tsconfig }).generate();
  } catch (error) {
    failure = error as CodegenFailure;
  }
  const messages = failure?.errors.map((e) => e.message) ?? [];

  it('stops generation and reports every problem', () => {
    expect(failure).toBeInstanceOf(CodegenFailure);
    expect(messages).toHaveLength(14);
  });

  it.each([
    ['src/bad.ts:4:3 Bad.fn → args.items[].when: functions cannot travel over the wire', 'Send data instead'],
    ["Bad.anyField → args.data: 'any' has no wire shape", 'Give it a concrete type'],
    ["Bad.unknownField → args.data: 'unknown' has no wire shape", 'Give it a concrete type'],
    ['Bad.symbolField → args.s: a symbol cannot travel over the wire', 'Use a string or an enum'],
    ["Bad.mixed → args.v: the union 'string | number' has no protobuf shape", 'discriminated union'],
    ["Bad.tuple → args.pair: the tuple '[string, number]' is not supported", 'Use an interface with named fields'],
    ['Bad.nested → args.grid[]: an array of arrays or maps has no protobuf shape', 'interface Row { cells: number[] }'],
    ['Bad.holes → args.xs[]: array elements cannot be null or undefined', 'Drop null/undefined'],
    ['Bad.floatKey → args.m{key}: a map key cannot be a floating-point number', 'Map<int32, V>'],
    ['Bad.noTag → args.shape: the union', 'has no discriminant'],
    ['Bad.buffer → args.b: Buffer does not survive the trip', 'Declare the field as Uint8Array'],
    ["Bad.width → args.n: the width 'int64' does not fit a number", '64-bit integers are bigint'],
    ['Bad.returnsFn → returns: functions cannot travel over the wire', 'Send data instead'],
    ["Dup.both → args.theirs: two different types are both named 'Named' in this service (src/other.ts:1 and src/bad.ts:12)", 'Rename one of them'],
  ])('%s', (what, hint) => {
    const message = messages.find((m) => m.includes(what));
    expect(message, messages.join('\n')).toBeDefined();
    expect(message).toMatch(/^src\/bad\.ts:\d+:\d+ /);
    expect(message).toContain(hint);
  });

  it('exits 1 from the CLI, with the messages on stderr', async () => {
    const err: string[] = [];
    const code = await runCli(['-p', project.tsconfig], { out: () => {}, err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err.join('\n')).toContain('svc-gen found 14 problems');
  });

  it('exits non-zero from the svc-gen binary', () => {
    let status = 0;
    let stderr = '';
    try {
      execFileSync(process.execPath, [join(PACKAGE_ROOT, 'bin/svc-gen.js'), '-p', project.tsconfig], { stdio: 'pipe' });
    } catch (error) {
      status = (error as { status: number }).status;
      stderr = String((error as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(1);
    expect(stderr).toContain('Bad.fn → args.items[].when: functions cannot travel over the wire');
  }, 30_000);
});

describe('a typed client that would need an unexported class', () => {
  it('says to export it', () => {
    const hidden = tempProject({
      'src/hidden.ts': `import { Method, Service } from '@svc/core';\n\n@Service('Hidden')\nclass Hidden {\n  @Method() async go(args: { n: number }): Promise<void> {}\n}\nvoid Hidden;\n`,
    });
    try {
      expect(() => new Generator({ tsconfig: hidden.tsconfig }).generate()).toThrow(
        /src\/hidden\.ts:3 Hidden: the typed client refers to the class Hidden .* not exported\. Export it \(export class Hidden\)/,
      );
    } finally {
      hidden.remove();
    }
  });
});

describe('several problems in one type or one method', () => {
  it('reports every field that cannot travel, and a bad response beside a bad request', () => {
    const many = tempProject({
      'src/many.ts': `import { Method, Service } from '@svc/core';

export interface Order {
  id: string;
  callback: () => void;
  lines: { sku: string; extra: unknown }[];
  meta: any;
}

@Service('Many')
export class Many {
  @Method() async place(order: Order): Promise<{ ok: boolean; tags: Set<string> }> { return { ok: true, tags: new Set() }; }
}
`,
    });
    let failure: CodegenFailure | undefined;
    try {
      new Generator({ tsconfig: many.tsconfig }).generate();
    } catch (error) {
      failure = error as CodegenFailure;
    } finally {
      many.remove();
    }
    expect(failure).toBeInstanceOf(CodegenFailure);
    const messages = failure!.errors.map((e) => e.message);
    expect(messages, messages.join('\n')).toHaveLength(4);
    expect(messages[0]).toMatch(/^src\/many\.ts:5:3 Many\.place → order\.callback: functions cannot travel/);
    expect(messages[1]).toMatch(/^src\/many\.ts:6:25 Many\.place → order\.lines\[\]\.extra: 'unknown' has no wire shape/);
    expect(messages[2]).toMatch(/^src\/many\.ts:7:3 Many\.place → order\.meta: 'any' has no wire shape/);
    expect(messages[3]).toMatch(/Many\.place → returns\.tags: a Set has no wire shape/);
  });
});
