import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { CodegenWarning } from './errors.js';
import type { Generator } from './generator.js';
import { refuseBreaking } from './cli.js';

export interface WatchOptions {
  allowBreaking?: boolean;
  /** Milliseconds to gather a burst of changes into one run. Default 30. */
  debounce?: number;
  onResult?: (result: { regenerated: readonly string[]; written: number; ms: number; files: readonly string[]; warnings: readonly CodegenWarning[] }) => void;
  onError?: (error: unknown) => void;
}

export interface Watcher {
  close(): void;
}

/**
 * Watches the project folder; on a change to a .ts file regenerates only the services that use
 * it (Generator.update) and writes only files whose content changed.
 */
export function watch(generator: Generator, options: WatchOptions = {}): Watcher {
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let firstChange = 0;
  const run = (): void => {
    timer = undefined;
    const files = [...pending];
    pending.clear();
    try {
      const result = generator.update(files);
      const breaking = result.changes.filter((c) => c.breaking);
      if (breaking.length && !options.allowBreaking) throw new Error(refuseBreaking(breaking));
      const report = generator.write(result);
      options.onResult?.({ regenerated: result.regenerated, written: report.written.length, ms: performance.now() - firstChange, files, warnings: result.warnings });
    } catch (error) {
      options.onError?.(error);
    }
  };
  const watcher: FSWatcher = fsWatch(generator.root, { recursive: true }, (_event, name) => {
    if (!name) return;
    const path = join(generator.root, name.toString());
    if (!/\.(c|m)?tsx?$/.test(path) || path.includes('/node_modules/') || path.startsWith(generator.outDir + '/')) return;
    if (pending.size === 0) firstChange = performance.now();
    pending.add(path);
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, options.debounce ?? 30);
  });
  return {
    close(): void {
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}
