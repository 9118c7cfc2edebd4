import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Node, type Decorator } from 'ts-morph';

/** The decorators of @svc/core that svc-gen reads. */
export type SvcDecoratorName = 'Service' | 'Method' | 'Subscribe';

const CORE_PACKAGE = '@svc/core';

/**
 * The decorators among `decorators` that are @svc/core's `name`, however they were imported:
 * renamed (`import { Service as Rpc }`), through a namespace (`@svc.Service()`) or through the
 * project's own re-exports. A decorator of the same name from elsewhere (typedi's `@Service`, a
 * project's own) is not one. Only when the decorator cannot be resolved at all (@svc/core not
 * installed where the compiler looks) does the name decide, as it is written.
 */
export function svcDecorators(decorators: readonly Decorator[], name: SvcDecoratorName): Decorator[] {
  return decorators.filter((d) => isSvcDecorator(d, name));
}

function isSvcDecorator(decorator: Decorator, name: SvcDecoratorName): boolean {
  const call = decorator.getCallExpression();
  const callee = call ? call.getExpression() : decorator.getExpression();
  const reference = Node.isPropertyAccessExpression(callee) ? callee.getNameNode() : callee;
  const symbol = reference.getSymbol();
  if (symbol === undefined) return decorator.getName() === name;
  const target = symbol.getAliasedSymbol() ?? symbol;
  const declarations = target.getDeclarations();
  if (declarations.length === 0) return decorator.getName() === name;
  return target.getName() === name && declarations.some((d) => packageOf(d.getSourceFile().getFilePath()) === CORE_PACKAGE);
}

/** The name in the nearest package.json above a file, cached per directory. */
const packageNames = new Map<string, string | undefined>();

function packageOf(file: string): string | undefined {
  const seen: string[] = [];
  let found: string | undefined;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (packageNames.has(dir)) {
      found = packageNames.get(dir);
      break;
    }
    seen.push(dir);
    // A package.json without a name (a dist folder's {"type": "module"}) is not the package's.
    const manifest = join(dir, 'package.json');
    found = existsSync(manifest) ? readName(manifest) : undefined;
    if (found !== undefined) break;
    if (dirname(dir) === dir) break;
  }
  for (const dir of seen) packageNames.set(dir, found);
  return found;
}

function readName(manifest: string): string | undefined {
  try {
    const name: unknown = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}
