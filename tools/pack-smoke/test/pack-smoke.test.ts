/**
 * What a user gets from npm: every package packed with `pnpm pack` (as it would be published),
 * installed with npm into a fresh project outside the workspace, a service written as in the
 * README, `npx svc-gen`, `npx tsc` with the tsconfig of `tsc --init` (TypeScript 6) plus only what
 * the README tells users to set, and a typed call over TCP with the generated client.
 *
 * The packages must be built (`pnpm test` builds everything first; turbo builds this package's
 * workspace dependencies before its test).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const packages = ['core', 'transport-tcp', 'transport-nats', 'registry-etcd', 'telemetry', 'resilience', 'codegen'] as const;

/**
 * The one compiler option a user must add to what `tsc --init` (TypeScript 6) writes, and that
 * the README's "Five minutes" must name: `tsc --init` writes `"target": "esnext"`, under which
 * standard decorators are left as written, and no Node release can run them yet (node stops with
 * "SyntaxError: Invalid or unexpected token" at `@Service`). The other way, `experimentalDecorators`,
 * is tested below too.
 */
const README_TSC_OPTIONS = ['--target', 'es2022'];

const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const running = new Set<number>();

/**
 * Runs a command in its own process group with a bounded time; on timeout (or when the test
 * ends early) the whole group is killed, so `npx`'s children do not outlive it. The environment
 * is a user's shell: without the npm_* variables pnpm and vitest set for this test.
 */
function run(command: string, args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<Result> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|pnpm_|vitest|node_env$|node_options$|init_cwd$)/i.test(key)) env[key] = value;
  }
  env.NO_UPDATE_NOTIFIER = '1';
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const pid = child.pid;
    if (pid !== undefined) running.add(pid);
    const timer = setTimeout(() => {
      stderr += `\n[pack-smoke] ${command} ${args.join(' ')} killed after ${timeoutMs} ms`;
      killGroup(pid);
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (pid !== undefined) running.delete(pid);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function ok(result: Result, what: string): Result {
  if (result.code !== 0) throw new Error(`${what} exited with ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

interface Packed {
  dir: string;
  tarball: string;
  size: number;
  files: string[];
}

// The user's project: a service as in the README's "Five minutes", a program that serves it over
// TCP and calls it through the generated client, and a file of calls that must not compile.
const ARITH_TS = `import { Service, Method, RpcError, type CallContext } from '@svc/core';

export interface ArithArgs { a: number; b: number }
export interface ArithReply { c: number }

@Service('Arith', { version: '1.0.0' })
export class Arith {
  @Method({ idempotent: true })
  async mul(args: ArithArgs, ctx: CallContext): Promise<ArithReply> {
    ctx.sendMetadata({ server: 'hi', tenant: ctx.metadata.tenant ?? 'none' });
    return { c: args.a * args.b };
  }

  @Method()
  async div(args: ArithArgs): Promise<ArithReply> {
    if (args.b === 0) throw new RpcError('INVALID_ARGUMENT', 'b must not be zero');
    return { c: args.a / args.b };
  }
}
`;

const MAIN_TS = `import { Server, Client, RpcError, staticRegistry } from '@svc/core';
import { encodeFrame } from '@svc/core/transport';
import { tcp } from '@svc/transport-tcp';
import { nats } from '@svc/transport-nats';
import { etcdRegistry } from '@svc/registry-etcd';
import { startTelemetry } from '@svc/telemetry';
import { clientResilience, servicePolicy } from '@svc/resilience';
import { Arith } from './arith.js';
import { ArithClient, schemas } from './generated/index.js';

const server = new Server({ transport: tcp(), schemas }).register(new Arith());
const address = await server.listen('tcp://127.0.0.1:0');
const client = new Client({ transport: tcp(), registry: staticRegistry({ Arith: [address] }), schemas });
// A client with a breaker and a typed fallback (it must be an ArithReply).
const resilience = clientResilience({ breaker: {}, services: { ...servicePolicy(ArithClient, { methods: { div: { fallback: { c: -1 } } } }) } });
const guarded = new Client(resilience.apply({ transport: tcp(), registry: staticRegistry({ Arith: [address] }), schemas }));
const arith = new ArithClient(client);
try {
  let metadata: unknown;
  const { c } = await arith.mul({ a: 6, b: 7 }, {
    timeout: 5_000,
    metadata: { tenant: 'acme' },
    onMetadata: (md) => { metadata = md; },
  });
  const product: number = c;
  let code = '';
  try {
    await arith.div({ a: 1, b: 0 });
  } catch (e) {
    if (e instanceof RpcError) code = e.code;
  }
  const fallback = (await new ArithClient(guarded).div({ a: 1, b: 0 })).c;
  console.log(JSON.stringify({ product, metadata, code, fallback, entries: [typeof encodeFrame, typeof nats, typeof etcdRegistry, typeof startTelemetry] }));
} finally {
  await client.close();
  await guarded.close();
  await resilience.close();
  await server.close();
}
`;

// The programmatic API of @svc/codegen resolves and type-checks too (types only: not run).
const CODEGEN_API_TS = `import type { Generator, GeneratorOptions } from '@svc/codegen';

export type Options = GeneratorOptions;
export const generate = (generator: Generator): unknown => generator;
`;

// Each line marked "must not compile" must get a tsc error, and no other line may.
const WRONG_TS = `import { Client, staticRegistry } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { ArithClient, schemas } from './generated/index.js';

const arith = new ArithClient(new Client({ transport: tcp(), registry: staticRegistry({}), schemas }));

export async function wrong(): Promise<void> {
  await arith.mul({ a: '6', b: 7 }); // must not compile: a is a number
  const reply: { c: string } = await arith.div({ a: 1, b: 2 }); // must not compile: c is a number
  await arith.pow({ a: 1, b: 2 }); // must not compile: Arith has no pow
  await arith.mul({ a: 1, b: 2 }, { timeout: '1s' }); // must not compile: timeout is in ms
  tcp({ tls: { client: { rejectUnauthorized: 'yes' } } }); // must not compile: node:tls types, a boolean
  console.log(reply);
}
`;

describe('the packed packages, installed with npm into a fresh project', () => {
  let work = '';
  let app = '';
  const packed = new Map<string, Packed>();
  const timings: string[] = [];
  const time = (what: string, r: Result): Result => {
    timings.push(`${what} ${(r.ms / 1000).toFixed(1)} s`);
    return r;
  };

  beforeAll(async () => {
    for (const name of packages) {
      if (!existsSync(join(root, 'packages', name, 'dist/index.js'))) {
        throw new Error(`packages/${name}/dist is missing: build first (pnpm build; pnpm test does)`);
      }
    }
    work = await mkdtemp(join(tmpdir(), 'svc-pack-smoke-'));
    const tarballs = join(work, 'tarballs');
    await Promise.all(
      packages.map(async (name) => {
        const dir = join(root, 'packages', name);
        const r = ok(time(`pnpm pack ${name}`, await run('pnpm', ['pack', '--json', '--pack-destination', tarballs], dir)), `pnpm pack (${name})`);
        const report = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { filename: string; files: { path: string }[] };
        const { size } = await stat(report.filename);
        packed.set(name, { dir, tarball: report.filename, size, files: report.files.map((f) => f.path).sort() });
      }),
    );

    app = join(work, 'app');
    await mkdir(join(app, 'src'), { recursive: true });
    ok(await run('npm', ['init', '-y'], app), 'npm init');
    const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(app, 'package.json'), JSON.stringify({ ...pkg, type: 'module' }, null, 2));
    const install = ['install', ...packages.map((name) => packed.get(name)!.tarball), 'typescript@~6.0.3', ...NPM_FLAGS];
    ok(time('npm install', await run('npm', install, app, 120_000)), 'npm install');
    ok(await run('npx', ['--no', '--', 'tsc', '--init', ...README_TSC_OPTIONS], app), 'tsc --init');
    await writeFile(join(app, 'src/arith.ts'), ARITH_TS);
    await writeFile(join(app, 'src/main.ts'), MAIN_TS);
  }, 180_000);

  afterAll(async () => {
    for (const pid of running) killGroup(pid);
    if (work) await rm(work, { recursive: true, force: true });
    const sizes = packages.map((name) => packed.get(name)).filter((p) => p !== undefined).map((p) => `${p.tarball.split('/').pop()} ${(p.size / 1024).toFixed(1)} KiB, ${p.files.length} files`);
    console.log(`[pack-smoke] ${sizes.join('; ')}\n[pack-smoke] ${timings.join(', ')}`);
  });

  it('packs dist, README, LICENSE and the bin, names the Node it needs, no tests or build configs, and names real versions for workspace dependencies', async () => {
    for (const name of packages) {
      const { dir, files } = packed.get(name)!;
      const installedDir = join(app, 'node_modules/@svc', name); // the tarball, as npm unpacked it
      const manifest = JSON.parse(await readFile(join(installedDir, 'package.json'), 'utf8')) as Record<string, unknown>;
      expect(files, name).toContain('package.json');
      expect(files.some((f) => f.startsWith('dist/')), name).toBe(true);
      if (existsSync(join(dir, 'README.md'))) expect(files, name).toContain('README.md');
      expect(files, name).toContain('LICENSE');
      expect(manifest.engines, `${name} engines`).toEqual({ node: '>=20.19' });
      const stray = files.filter((f) => /(^|\/)(test|tests|__tests__|node_modules|\.turbo)\/|\.test\.|^tsconfig|^vitest\.config|test-results\.json|\.tsbuildinfo$/.test(f));
      expect(stray, name).toEqual([]);

      // Every file package.json points at is in the tarball.
      const targets: string[] = [];
      const collect = (value: unknown): void => {
        if (typeof value === 'string') targets.push(normalize(value));
        else if (value && typeof value === 'object') Object.values(value).forEach(collect);
      };
      collect(manifest.exports);
      collect(manifest.bin);
      collect(manifest.main);
      collect(manifest.types);
      expect(targets.length, name).toBeGreaterThan(0);
      for (const target of targets) expect(files, `${name}: ${target}`).toContain(target);

      // Source maps and declaration maps point at files that ship.
      for (const map of files.filter((f) => f.endsWith('.map'))) {
        const { sources } = JSON.parse(readFileSync(join(installedDir, map), 'utf8')) as { sources: string[] };
        for (const source of sources) expect(files, `${name}: ${map} → ${source}`).toContain(normalize(join(dirname(map), source)));
      }

      // Each entry's declarations say that they use Node's types, and the package brings them:
      // TypeScript 6 includes no @types package that nothing names.
      const deps = manifest.dependencies as Record<string, string> | undefined;
      expect(deps?.['@types/node'], `${name} dependencies.@types/node`).toBeDefined();
      for (const entry of Object.values(manifest.exports as Record<string, { types: string }>)) {
        const declarations = await readFile(join(installedDir, entry.types), 'utf8');
        expect(declarations.split('\n')[0], `${name}: ${entry.types}`).toMatch(/^\/\/\/ <reference types="node"/);
      }

      // The packed manifest names real versions: workspace:* became the version.
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
        for (const [dep, range] of Object.entries((manifest[field] ?? {}) as Record<string, string>)) {
          expect(range, `${name} ${field}.${dep}`).not.toMatch(/^workspace:/);
          if (dep.startsWith('@svc/')) {
            const version = JSON.parse(readFileSync(join(root, 'packages', dep.slice('@svc/'.length), 'package.json'), 'utf8')).version as string;
            expect(range, `${name} ${field}.${dep}`).toBe(version);
          }
        }
      }
    }
    expect(packed.get('codegen')!.files).toContain('bin/svc-gen.js');
    // The tarballs' own @svc dependencies came from the tarballs, not from the registry.
    for (const name of packages) {
      const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
      const entries = Object.entries(lock.packages).filter(([path]) => path.endsWith(`node_modules/@svc/${name}`));
      expect(entries.length, name).toBe(1);
      expect(entries[0]![1].resolved, name).toMatch(/^file:/);
    }
  });

  it('svc-gen, from the installed bin, writes the typed client', async () => {
    const r = ok(time('svc-gen', await run('npx', ['--no', '--', 'svc-gen'], app)), 'svc-gen');
    expect(r.stdout).toMatch(/1 service/);
    for (const file of ['index.ts', 'arith.client.ts', 'arith.descriptor.ts', 'arith.proto']) {
      expect(existsSync(join(app, 'src/generated', file)), file).toBe(true);
    }
    expect(existsSync(join(app, 'svc.lock.json'))).toBe(true);
  });

  it('tsc compiles it under tsc --init\'s defaults, and the published declarations check with skipLibCheck off', async () => {
    const tsconfig = await readFile(join(app, 'tsconfig.json'), 'utf8');
    expect(tsconfig).toMatch(/"types": \[\]/); // TypeScript 6: no @types are included unless named
    const build = time('tsc', await run('npx', ['--no', '--', 'tsc'], app));
    expect(build.stdout).toBe('');
    expect(build.code, build.stderr).toBe(0);
    // skipLibCheck off: every declaration of @svc/* the program reaches is checked under the
    // user's options (types: [], exactOptionalPropertyTypes, ...). Other packages' own
    // declarations are theirs to fix (nats 2.29's do not pass exactOptionalPropertyTypes).
    await writeFile(join(app, 'src/codegen-api.ts'), CODEGEN_API_TS);
    let strict: Result;
    try {
      strict = time('tsc --skipLibCheck false', await run('npx', ['--no', '--', 'tsc', '--noEmit', '--skipLibCheck', 'false'], app));
    } finally {
      await rm(join(app, 'src/codegen-api.ts'));
    }
    const errors = strict.stdout.split('\n').filter((line) => /^\S+\(\d+,\d+\): error/.test(line));
    const theirs = errors.filter((line) => /^node_modules\/(?!@svc\/)/.test(line));
    if (theirs.length > 0) timings.push(`(skipLibCheck off, not ours: ${[...new Set(theirs.map((line) => line.split('(')[0]))].join(', ')})`);
    expect(errors.filter((line) => !theirs.includes(line)), strict.stdout).toEqual([]);
    expect(strict.code === 0 || theirs.length > 0, strict.stdout + strict.stderr).toBe(true);
  });

  it('the compiled service answers a typed call over TCP (standard decorators)', async () => {
    const r = ok(time('node main', await run('node', ['src/main.js'], app, 20_000)), 'node src/main.js');
    expect(JSON.parse(r.stdout.trim())).toEqual({
      product: 42,
      metadata: { server: 'hi', tenant: 'acme' },
      code: 'INVALID_ARGUMENT',
      fallback: -1,
      entries: ['function', 'function', 'function', 'function'],
    });
  });

  it('and with experimentalDecorators', async () => {
    ok(await run('npx', ['--no', '--', 'tsc', '--experimentalDecorators', '--rootDir', 'src', '--outDir', 'legacy'], app), 'tsc --experimentalDecorators');
    expect(await readFile(join(app, 'legacy/arith.js'), 'utf8')).toMatch(/__decorate/);
    const r = ok(await run('node', ['legacy/main.js'], app, 20_000), 'node legacy/main.js');
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ product: 42, code: 'INVALID_ARGUMENT' });
  });

  it('a wrongly typed call does not compile, on each line that is wrong and nowhere else', async () => {
    await writeFile(join(app, 'src/wrong.ts'), WRONG_TS);
    try {
      const r = await run('npx', ['--no', '--', 'tsc', '--noEmit'], app);
      expect(r.code).not.toBe(0);
      const errors = [...r.stdout.matchAll(/^(\S+?)\((\d+),\d+\): error (TS\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
      const expected = WRONG_TS.split('\n').flatMap((line, i) => (line.includes('must not compile') ? [`src/wrong.ts:${i + 1}`] : []));
      expect([...new Set(errors)].sort(), r.stdout).toEqual(expected.sort());
    } finally {
      await rm(join(app, 'src/wrong.ts'));
    }
  });
});
