#!/usr/bin/env node
// Codegen benchmark: a generated project of 200 services and 2,000 message types.
// Measures cold `svc-gen` (a fresh process, as CI runs it) and the --watch regeneration time
// after one file changes. Run: pnpm --filter @svc/codegen bench [-- --services 200 --messages 10]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../../..');
const codegen = join(repo, 'packages/codegen');
const { values } = parseArgs({ args: process.argv.slice(2).filter((a) => a !== '--'), options: { services: { type: 'string', default: '200' }, messages: { type: 'string', default: '10' }, keep: { type: 'boolean', default: false } } });
const SERVICES = Number(values.services);
const PER_SERVICE = Number(values.messages);
const pad = (n) => String(n).padStart(3, '0');

/** One types file per service: PER_SERVICE interfaces that refer to each other and to shared types. */
function typesFile(s, extraField = '') {
  const lines = [`import type { int32, int64 } from '@svc/core';`, `import type { Status, Audit } from '../shared.js';`, ''];
  for (let m = 0; m < PER_SERVICE; m++) {
    const next = m + 1 < PER_SERVICE ? `  child${m}?: M${pad(s)}_${m + 1};\n  children${m}: M${pad(s)}_${m + 1}[];\n` : '';
    lines.push(`export interface M${pad(s)}_${m} {
  id: int64;
  name: string;
  count: int32;
  ratio: number;
  active: boolean;
  created: Date;
  tags: string[];
  labels: Record<string, string>;
  status: Status;
  audit?: Audit;
${next}${m === 0 ? extraField : ''}}
`);
  }
  return lines.join('\n');
}

function serviceFile(s) {
  const t = (m) => `M${pad(s)}_${m}`;
  const methods = [];
  for (let k = 0; k < 5; k++) {
    const req = t((2 * k) % PER_SERVICE);
    const res = t((2 * k + 1) % PER_SERVICE);
    methods.push(`  @Method({ idempotent: ${k % 2 === 0} })
  async call${k}(args: ${req}): Promise<${res}> {
    throw new Error('not for running');
  }
`);
  }
  const imports = [...new Set(Array.from({ length: 5 }, (_, k) => [t((2 * k) % PER_SERVICE), t((2 * k + 1) % PER_SERVICE)]).flat())].sort();
  return `import { Method, Service } from '@svc/core';
import type { ${imports.join(', ')} } from '../types/types-${pad(s)}.js';

@Service('Svc${pad(s)}', { version: '1.0.0' })
export class Svc${pad(s)} {
${methods.join('\n')}}
`;
}

function makeProject() {
  const root = mkdtempSync(join(tmpdir(), 'svc-codegen-bench-'));
  mkdirSync(join(root, 'src/services'), { recursive: true });
  mkdirSync(join(root, 'src/types'), { recursive: true });
  mkdirSync(join(root, 'node_modules/@svc'), { recursive: true });
  symlinkSync(join(repo, 'packages/core'), join(root, 'node_modules/@svc/core'));
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ extends: join(repo, 'tsconfig.base.json'), compilerOptions: { rootDir: '.', noEmit: true, types: [] }, include: ['src'] }, null, 2));
  writeFileSync(join(root, 'src/shared.ts'), `export type Status = 'new' | 'active' | 'closed';\nexport interface Audit {\n  by: string;\n  at: Date;\n}\n`);
  for (let s = 0; s < SERVICES; s++) {
    writeFileSync(join(root, `src/types/types-${pad(s)}.ts`), typesFile(s));
    writeFileSync(join(root, `src/services/svc-${pad(s)}.ts`), serviceFile(s));
  }
  return root;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const root = makeProject();
console.log(`codegen bench: ${SERVICES} services, ${SERVICES * PER_SERVICE} message types, in ${root}`);
try {
  // Cold: a new process, nothing cached, writes every file and the lock.
  let t = performance.now();
  const out = execFileSync(process.execPath, [join(codegen, 'bin/svc-gen.js'), '-p', join(root, 'tsconfig.json')], { encoding: 'utf8' });
  const cold = performance.now() - t;
  console.log(out.trim());
  // Warm no-op check, as CI runs it after a build.
  t = performance.now();
  execFileSync(process.execPath, [join(codegen, 'bin/svc-gen.js'), '-p', join(root, 'tsconfig.json'), '--check'], { encoding: 'utf8' });
  const check = performance.now() - t;

  // --watch: in process, one types file changes; time from the write to the files on disk.
  const { Generator, watch } = await import(join(codegen, 'dist/index.js'));
  const generator = new Generator({ tsconfig: join(root, 'tsconfig.json') });
  generator.write(generator.generate());
  const runs = [];
  let resolveRun;
  const watcher = watch(generator, {
    onResult: (r) => resolveRun?.(r),
    onError: (e) => {
      console.error(e);
      process.exit(1);
    },
  });
  for (let i = 0; i < 5; i++) {
    const s = (i * 37) % SERVICES;
    const done = new Promise((resolve) => (resolveRun = resolve));
    const start = performance.now();
    writeFileSync(join(root, `src/types/types-${pad(s)}.ts`), typesFile(s, `  added${i}: string;\n`));
    const r = await done;
    const ms = performance.now() - start;
    if (r.regenerated.length !== 1 || r.regenerated[0] !== `Svc${pad(s)}`) throw new Error(`expected only Svc${pad(s)} to be regenerated, got ${r.regenerated.join(', ')}`);
    runs.push(ms);
  }
  watcher.close();
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    services: SERVICES,
    messages: SERVICES * PER_SERVICE,
    coldMs: Math.round(cold),
    checkMs: Math.round(check),
    watchChangeMs: { median: Math.round(median(runs)), runs: runs.map(Math.round) },
  };
  console.log(`cold svc-gen (new process, writes ${SERVICES * 3 + 2} files): ${result.coldMs} ms   (target < 10000)`);
  console.log(`svc-gen --check (new process, nothing to do):          ${result.checkMs} ms`);
  console.log(`--watch, one types file changed → files written:       ${result.watchChangeMs.median} ms median of ${runs.length} (${result.watchChangeMs.runs.join(', ')})   (target < 1000; includes the 30 ms debounce)`);
  const dir = join(repo, 'tools/bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'codegen.json'), JSON.stringify(result, null, 2) + '\n');
} finally {
  if (!values.keep) rmSync(root, { recursive: true, force: true });
}
