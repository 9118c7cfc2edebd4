import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { Client, Method, Server, Service, getServiceDefinition, inproc, staticRegistry } from '../src/index.js';

// The same service source compiled by the TypeScript compiler in both decorator modes, then run.
const source = `
import { Service, Method } from '@svc/core';
class Base {
  @Method({ idempotent: true })
  async ping() { return 'pong'; }
}
@Service('Arith', { version: '1.2.0' })
export class Arith extends Base {
  factor = 1;
  @Method({ timeout: 500 })
  async mul(args, ctx) { return { c: args.a * args.b * this.factor }; }
  @Method({ name: 'add' })
  async plus(args) { return { c: args.a + args.b }; }
  helper() { return 'not exposed'; }
}
`;

const dir = mkdtempSync(join(tmpdir(), 'svc-decorators-'));
const coreUrl = pathToFileURL(join(import.meta.dirname, '../src/index.ts')).href;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function compile(experimentalDecorators: boolean): Promise<new () => object> {
  const out = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, experimentalDecorators, emitDecoratorMetadata: false },
  }).outputText;
  const file = join(dir, `arith-${experimentalDecorators ? 'legacy' : 'standard'}.mjs`);
  // Vitest resolves the TypeScript source of @svc/core for the import.
  writeFileSync(file, out.replace("'@svc/core'", JSON.stringify(coreUrl)));
  return ((await import(/* @vite-ignore */ pathToFileURL(file).href)) as { Arith: new () => object }).Arith;
}

describe.each([
  ['experimentalDecorators', true],
  ['standard (TC39) decorators', false],
])('@Service and @Method with %s', (_name, legacy) => {
  it('record the service, its methods (inherited too) and their options', async () => {
    const Arith = await compile(legacy);
    const definition = getServiceDefinition(Arith)!;
    expect(definition.name).toBe('Arith');
    expect(definition.options).toEqual({ version: '1.2.0' });
    expect([...definition.methods.keys()].sort()).toEqual(['add', 'mul', 'ping']);
    expect(definition.methods.get('mul')).toEqual({ name: 'mul', property: 'mul', options: { timeout: 500 } });
    expect(definition.methods.get('add')).toEqual({ name: 'add', property: 'plus', options: { name: 'add' } });
    expect(definition.methods.get('ping')!.options).toEqual({ idempotent: true });
  });

  it('serve calls with `this` bound to the instance', async () => {
    const Arith = await compile(legacy);
    const t = inproc();
    const instance = new Arith() as { factor: number };
    instance.factor = 2;
    const server = new Server({ transport: t }).register(instance);
    await server.listen('inproc://arith');
    const client = new Client({ transport: t, registry: staticRegistry({ Arith: ['inproc://arith'] }) });
    expect(await client.invoke('Arith', 'mul', { a: 6, b: 7 })).toEqual({ c: 84 });
    expect(await client.invoke('Arith', 'add', { a: 6, b: 7 })).toEqual({ c: 13 });
    expect(await client.invoke('Arith', 'ping', {})).toBe('pong');
    await expect(client.invoke('Arith', 'helper', {})).rejects.toMatchObject({ code: 'UNIMPLEMENTED' });
    await client.close();
    await server.close();
  });
});

describe('registration errors', () => {
  it('refuses an object that is not a service, saying what to do', () => {
    const server = new Server({ transport: inproc() });
    expect(() => server.register({})).toThrow(/mark its class with @Service\(\) and its methods with @Method\(\)/);
  });
});

describe('@Method resilience options', () => {
  it('keeps concurrency, queue and roles for the server filters that read them', () => {
    const mark = Method({ concurrency: 4, queue: 8, roles: ['admin'] });
    class Orders {
      place(): string {
        return 'ok';
      }
    }
    mark(Orders.prototype, 'place', Object.getOwnPropertyDescriptor(Orders.prototype, 'place')!);
    Service()(Orders);
    expect(getServiceDefinition(Orders)!.methods.get('place')!.options).toEqual({ concurrency: 4, queue: 8, roles: ['admin'] });
  });

  it('refuses values a bulkhead or an auth filter could not use, naming the method', () => {
    const descriptor = { value: () => 1, writable: true, enumerable: false, configurable: true };
    expect(() => Method({ concurrency: 0 })({}, 'place', descriptor)).toThrow(/concurrency.*'place'.*at least 1/);
    expect(() => Method({ concurrency: 1.5 })({}, 'place', descriptor)).toThrow(/integer/);
    expect(() => Method({ queue: -1 })({}, 'place', descriptor)).toThrow(/queue.*at least 0/);
    expect(() => Method({ roles: ['admin', ''] })({}, 'place', descriptor)).toThrow(/roles.*non-empty/);
    expect(() => Method({ roles: 'admin' as unknown as string[] })({}, 'place', descriptor)).toThrow(/roles/);
  });
});
