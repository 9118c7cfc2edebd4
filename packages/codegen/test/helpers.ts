import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CORPUS = join(PACKAGE_ROOT, 'test/fixtures/corpus');
export const PROTOC = '/usr/bin/protoc';

/**
 * A throwaway project inside the package (so that '@svc/core' resolves through its
 * node_modules), removed by the returned function.
 */
export function tempProject(files: Record<string, string>): { root: string; tsconfig: string; write(name: string, text: string): void; remove(): void } {
  const base = join(PACKAGE_ROOT, '.tmp');
  mkdirSync(base, { recursive: true });
  const root = mkdtempSync(join(base, 'p-'));
  const write = (name: string, text: string): void => {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  };
  write('tsconfig.json', JSON.stringify({ extends: '../../../../tsconfig.base.json', compilerOptions: { rootDir: '.', noEmit: true }, include: ['src'] }));
  for (const [name, text] of Object.entries(files)) write(name, text);
  return { root, tsconfig: join(root, 'tsconfig.json'), write, remove: () => rmSync(root, { recursive: true, force: true }) };
}
