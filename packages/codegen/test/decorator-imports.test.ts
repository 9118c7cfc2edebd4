import { afterAll, describe, expect, it } from 'vitest';
import { Generator } from '../src/index.js';
import { tempProject } from './helpers.js';

// @svc/core's decorators are found by what they are, not by the name they are written with.
const project = tempProject({
  'src/renamed.ts': `import { Method as Call, Service as Rpc, Subscribe as On } from '@svc/core';

export interface Ping {
  text: string;
}

@Rpc('Renamed')
export class Renamed {
  @Call() async ping(args: Ping): Promise<Ping> { return args; }
  @On('renamed.pinged') async pinged(event: Ping): Promise<void> {}
}
`,
  'src/namespaced.ts': `import * as svc from '@svc/core';

@svc.Service('Namespaced')
export class Namespaced {
  @svc.Method() async echo(args: { text: string }): Promise<{ text: string }> { return args; }
}
`,
  'src/decorators.ts': `export { Method, Service } from '@svc/core';
`,
  'src/reexported.ts': `import { Method, Service } from './decorators.js';

@Service('Reexported')
export class Reexported {
  @Method() async echo(args: { text: string }): Promise<{ text: string }> { return args; }
}
`,
  'src/di.ts': `/** Another library's decorators that happen to share @svc/core's names (typedi has a @Service). */
export function Service(): ClassDecorator {
  return () => {};
}
export function Method(): MethodDecorator {
  return () => {};
}
`,
  'src/injected.ts': `import { Method, Service } from './di.js';

@Service()
export class Injected {
  @Method() async work(args: { n: number }): Promise<number> { return args.n; }
}
`,
  'src/mixed.ts': `import { Method, Service } from '@svc/core';
import { Method as Traced } from './di.js';

@Service('Mixed')
export class Mixed {
  @Method() async served(args: { n: number }): Promise<number> { return args.n; }
  @Traced() async local(args: { n: number }): Promise<number> { return args.n; }
}
`,
});
afterAll(() => project.remove());

describe('decorators however they are imported', () => {
  const result = new Generator({ tsconfig: project.tsconfig }).generate();
  const service = (name: string) => result.services.find((s) => s.schema.service === name)?.schema;

  it('finds renamed decorators, methods and subscriptions alike', () => {
    expect(service('Renamed')?.methods.map((m) => m.name)).toEqual(['ping']);
    expect(service('Renamed')?.events?.map((e) => e.topic)).toEqual(['renamed.pinged']);
  });

  it('finds decorators used through a namespace import', () => {
    expect(service('Namespaced')?.methods.map((m) => m.name)).toEqual(['echo']);
  });

  it("finds decorators re-exported by the project's own module", () => {
    expect(service('Reexported')?.methods.map((m) => m.name)).toEqual(['echo']);
  });

  it("leaves out classes and methods whose decorators only share @svc/core's names", () => {
    expect(result.services.map((s) => s.schema.service).sort()).toEqual(['Mixed', 'Namespaced', 'Reexported', 'Renamed']);
    expect(service('Mixed')?.methods.map((m) => m.name)).toEqual(['served']);
  });
});
