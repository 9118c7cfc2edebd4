import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CodegenFailure, Generator, watch, type Watcher } from '../src/index.js';
import { tempProject } from './helpers.js';

const a = (extra = '') => `import { Method, Service } from '@svc/core';
import type { Shared } from './shared.js';

@Service('Alpha')
export class Alpha {
  @Method() async get(args: Shared): Promise<{ ok: boolean${extra} }> {
    return { ok: true } as never;
  }
}
`;
const b = (fields: string) => `import { Method, Service } from '@svc/core';
import type { Level } from './levels.js';

export interface BetaArgs {
${fields}
}

@Service('Beta')
export class Beta {
  @Method() async put(args: BetaArgs): Promise<void> {}
}
`;

const project = tempProject({
  'src/shared.ts': 'export interface Shared {\n  id: string;\n}\n',
  'src/a.ts': a(),
  'src/b.ts': b('  x: string;\n  level: Level;'),
  'src/levels.ts': "export type Level = 'low' | 'high';\n",
});

type Event = { regenerated: readonly string[] } | { error: unknown };

describe('svc-gen --watch', () => {
  const generator = new Generator({ tsconfig: project.tsconfig });
  generator.write(generator.generate());
  const events: Event[] = [];
  let waiting: ((e: Event) => void) | undefined;
  const next = (): Promise<Event> => new Promise((resolve) => (waiting = resolve));
  const push = (e: Event): void => {
    events.push(e);
    const w = waiting;
    waiting = undefined;
    w?.(e);
  };
  const watcher: Watcher = watch(generator, { onResult: (r) => push({ regenerated: r.regenerated }), onError: (error) => push({ error }) });
  afterAll(() => {
    watcher.close();
    project.remove();
  });
  const out = (name: string) => join(project.root, 'src/generated', name);

  it('regenerates only the service whose file changed', async () => {
    const alphaBefore = statSync(out('alpha.proto')).mtimeMs;
    const event = next();
    project.write('src/b.ts', b('  x: string;\n  level: Level;\n  y: boolean;'));
    expect(await event).toEqual({ regenerated: ['Beta'] });
    expect(readFileSync(out('beta.proto'), 'utf8')).toContain('  bool y = 3;');
    expect(statSync(out('alpha.proto')).mtimeMs).toBe(alphaBefore);
  });

  it('regenerates the services that use a changed type file', async () => {
    const event = next();
    project.write('src/shared.ts', 'export interface Shared {\n  id: string;\n  at: Date;\n}\n');
    expect(await event).toEqual({ regenerated: ['Alpha'] });
    expect(readFileSync(out('alpha.proto'), 'utf8')).toContain('  google.protobuf.Timestamp at = 2;');
  });

  // Regression: a file holding only a type alias (no interface) was not tracked.
  it('regenerates a service when a union alias it uses changes', async () => {
    const event = next();
    project.write('src/levels.ts', "export type Level = 'low' | 'mid' | 'high';\n");
    expect(await event).toEqual({ regenerated: ['Beta'] });
    expect(readFileSync(out('beta.proto'), 'utf8')).toContain('  LEVEL_MID = 3;');
  });

  it('picks up a new service file, and drops the output of a deleted one', async () => {
    let event = next();
    project.write('src/c.ts', "import { Method, Service } from '@svc/core';\n\n@Service('Gamma')\nexport class Gamma {\n  @Method() async go(args: { n: number }): Promise<void> {}\n}\n");
    expect(await event).toEqual({ regenerated: ['Gamma'] });
    expect(readFileSync(out('index.ts'), 'utf8')).toContain('GammaClient');
    expect(existsSync(out('gamma.proto'))).toBe(true);
    event = next();
    unlinkSync(join(project.root, 'src/c.ts'));
    expect(await event).toEqual({ regenerated: [] });
    expect(existsSync(out('gamma.proto'))).toBe(false);
    expect(readFileSync(out('index.ts'), 'utf8')).not.toContain('GammaClient');
  });

  it('ignores files the tsconfig does not include', async () => {
    project.write('scratch/d.ts', "import { Method, Service } from '@svc/core';\n\n@Service('Delta')\nexport class Delta {\n  @Method() async go(args: { n: number }): Promise<void> {}\n}\n");
    const event = next();
    project.write('src/b.ts', b('  x: string;\n  level: Level;\n  y: boolean;\n  z: string;'));
    expect(await event).toEqual({ regenerated: ['Beta'] });
    expect(existsSync(out('delta.proto'))).toBe(false);
  });

  it('reports an error, keeps watching, and recovers when it is fixed', async () => {
    let event = next();
    project.write('src/a.ts', a('; fn: () => void'));
    const failed = await event;
    expect('error' in failed && failed.error).toBeInstanceOf(CodegenFailure);
    expect(String((failed as { error: Error }).error.message)).toContain('Alpha.get → returns.fn: functions cannot travel over the wire');
    event = next();
    project.write('src/a.ts', a('; n: number'));
    expect(await event).toEqual({ regenerated: ['Alpha'] });
    expect(readFileSync(out('alpha.proto'), 'utf8')).toContain('  double n = 2;');
  });
});
