import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { CodegenFailure, type CodegenWarning } from './errors.js';
import { Generator, type GenerateResult } from './generator.js';
import type { WireChange } from './model/assign-numbers.js';
import { watch } from './watch.js';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `usage: svc-gen [options]

Reads a TypeScript project, finds every @Service class and writes, per service, a .proto file, a
runtime descriptor module and a typed client into the output folder, and pins field numbers in
svc.lock.json (commit it).

  -p, --project <tsconfig>  the project to read (default ./tsconfig.json)
  -o, --out <dir>           output folder (default <project>/src/generated)
      --lock <file>         lock file (default <project>/svc.lock.json)
      --json-schema         also write <service>.schema.json
      --check               write nothing; exit 1 when generated files are stale or the wire
                            changed incompatibly against the lock
      --allow-breaking      accept wire-breaking changes and record them in the lock
  -w, --watch               regenerate on change
  -h, --help                this text`;

const consoleIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

/** The svc-gen command. Resolves to the exit code (for --watch: when the watcher stops). */
export async function runCli(argv: readonly string[], io: CliIo = consoleIo, signal?: AbortSignal): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: [...argv],
      options: {
        project: { type: 'string', short: 'p', default: 'tsconfig.json' },
        out: { type: 'string', short: 'o' },
        lock: { type: 'string' },
        'json-schema': { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        'allow-breaking': { type: 'boolean', default: false },
        watch: { type: 'boolean', short: 'w', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    io.err(`svc-gen: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    io.out(USAGE);
    return 0;
  }
  const started = performance.now();
  let generator: Generator;
  let result: GenerateResult;
  try {
    generator = new Generator({
      tsconfig: args.project!,
      ...(args.out !== undefined ? { outDir: args.out } : {}),
      ...(args.lock !== undefined ? { lockFile: args.lock } : {}),
      jsonSchema: args['json-schema']!,
      allowBreaking: args['allow-breaking']!,
    });
    result = generator.generate();
  } catch (error) {
    io.err(describe(error));
    return 1;
  }
  const cwd = process.cwd();
  if (result.warnings.length) io.err(formatWarnings(result.warnings));
  const breaking = result.changes.filter((c) => c.breaking);
  for (const c of result.changes.filter((c) => !c.breaking)) io.out(`  ${formatChange(c)}`);

  if (args.check) {
    let failed = false;
    if (breaking.length && !args['allow-breaking']) {
      failed = true;
      io.err(`svc-gen --check: ${breaking.length} wire-breaking change${breaking.length === 1 ? '' : 's'} against ${relative(cwd, generator.lockFile)}:`);
      for (const c of breaking) io.err(`  ${formatChange(c)}`);
      io.err('  Callers built against the locked schema would break. Undo the change, or accept it with svc-gen --allow-breaking and commit the lock.');
    }
    const stale = generator.stale(result);
    if (stale.length) {
      failed = true;
      io.err(`svc-gen --check: ${stale.length} generated file${stale.length === 1 ? ' is' : 's are'} out of date; run svc-gen and commit the result:`);
      for (const s of stale) io.err(`  ${s.problem.padEnd(7)} ${relative(cwd, s.path)}`);
    }
    if (!failed) io.out(`svc-gen --check: ${result.services.length} service${result.services.length === 1 ? '' : 's'} up to date`);
    return failed ? 1 : 0;
  }

  if (breaking.length && !args['allow-breaking']) {
    io.err(refuseBreaking(breaking));
    return 1;
  }
  const report = generator.write(result);
  const ms = Math.round(performance.now() - started);
  io.out(`svc-gen: ${result.services.length} service${result.services.length === 1 ? '' : 's'}, ${report.written.length} file${report.written.length === 1 ? '' : 's'} written, ${report.deleted.length} deleted, in ${ms} ms`);
  if (!args.watch) return 0;

  const watcher = watch(generator, {
    allowBreaking: args['allow-breaking']!,
    onResult: (r) => {
      if (r.warnings.length) io.err(formatWarnings(r.warnings));
      io.out(`svc-gen: regenerated ${r.regenerated.join(', ') || 'nothing'} (${r.written} file${r.written === 1 ? '' : 's'} written) in ${Math.round(r.ms)} ms`);
    },
    onError: (error) => io.err(describe(error)),
  });
  io.out(`svc-gen: watching ${relative(cwd, generator.root) || '.'} for changes (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      watcher.close();
      resolve();
    };
    if (signal) signal.addEventListener('abort', stop, { once: true });
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

export function formatChange(c: WireChange): string {
  return `${c.breaking ? 'BREAKING ' : ''}${c.subject}: ${c.message}${c.source ? ` (${c.source})` : ''}`;
}

/** Warnings do not fail a run (nor --check): what they name is left out of the output. */
export function formatWarnings(warnings: readonly CodegenWarning[]): string {
  return [`svc-gen: ${warnings.length} warning${warnings.length === 1 ? '' : 's'}:`, ...warnings.map((w) => `  ${w.message}`)].join('\n');
}

export function refuseBreaking(breaking: readonly WireChange[]): string {
  return [
    `svc-gen: ${breaking.length} wire-breaking change${breaking.length === 1 ? '' : 's'} against the lock; nothing was written:`,
    ...breaking.map((c) => `  ${formatChange(c)}`),
    '  Undo the change, or accept it with svc-gen --allow-breaking and commit svc.lock.json.',
  ].join('\n');
}

function describe(error: unknown): string {
  if (error instanceof CodegenFailure) return error.message;
  return `svc-gen: ${(error as Error)?.message ?? String(error)}`;
}
