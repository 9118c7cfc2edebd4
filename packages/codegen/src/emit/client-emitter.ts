import { posix } from 'node:path';
import type { DraftMethod, DraftService, TsTypeRef } from '../model/draft.js';
import { CodegenError } from '../errors.js';
import { tsHeader } from './header.js';
import { schemaConst } from './descriptor-emitter.js';

/**
 * The typed client: one method per service method, the user's own types imported with
 * `import type` from their files, so nothing is copied that could drift.
 */
export function emitClient(service: DraftService, outDir: string, stem: string, source: string, coreImport: string): string {
  const imports = new Map<string, Set<string>>();
  const use = (file: string, name: string): void => {
    const spec = importPath(outDir, file);
    if (!imports.has(spec)) imports.set(spec, new Set());
    imports.get(spec)!.add(name);
  };
  let needsClass = false;
  let needsElement = false;
  const spell = (ref: TsTypeRef, property: string): string => {
    switch (ref.kind) {
      case 'named':
        use(ref.file, ref.name);
        return ref.name;
      case 'text':
        return ref.text;
      case 'param':
        needsClass = true;
        return `Parameters<${service.className}['${property}']>[0]`;
      case 'result':
        needsClass = true;
        return `Awaited<ReturnType<${service.className}['${property}']>>`;
      case 'paramElement':
        needsClass = true;
        needsElement = true;
        return `SvcStreamElement<Parameters<${service.className}['${property}']>[0]>`;
      case 'resultElement':
        needsClass = true;
        needsElement = true;
        return `SvcStreamElement<ReturnType<${service.className}['${property}']>>`;
      case 'none':
        return 'void';
    }
  };
  // CallOptions as before for services without streams (also those without methods), so their clients do not change.
  const coreTypes = new Set(['Client']);
  if (!service.methods.some((m) => m.stream)) coreTypes.add('CallOptions');
  const methods = service.methods.map((m) => {
    if (m.stream) {
      coreTypes.add('StreamOptions');
      return streamMethod(service.name, m, spell);
    }
    coreTypes.add('CallOptions');
    const res = spell(m.responseTs, m.property);
    const call = `this.#client.invoke<${res}>(${JSON.stringify(service.name)}, ${JSON.stringify(m.name)}, ${m.requestTs.kind === 'none' ? 'undefined' : m.paramName}, options)`;
    const notes = [m.idempotent ? 'idempotent' : '', m.timeout !== undefined ? `timeout ${m.timeout} ms` : ''].filter(Boolean).join(', ');
    const doc = `  /** ${service.name}.${m.name}${notes ? ` (${notes})` : ''} — ${m.source} */\n`;
    // CallOptions of the result type: a fallback must be a value of it (or a function giving one).
    const options = `options?: CallOptions<${res}>`;
    if (m.requestTs.kind === 'none') return `${doc}  ${m.property}(${options}): Promise<${res}> {\n    return ${call};\n  }`;
    return `${doc}  ${m.property}(${m.paramName}: ${spell(m.requestTs, m.property)}, ${options}): Promise<${res}> {\n    return ${call};\n  }`;
  });
  if (needsClass) {
    if (!service.classExported) {
      throw new CodegenError(service.source, service.name, `the typed client refers to the class ${service.className} for types it cannot import by name, and the class is not exported`, `Export it (export class ${service.className}), or export the request and response types`);
    }
    use(service.file, service.className);
  }
  const lines = [tsHeader(source).trimEnd(), `import type { ${[...coreTypes].sort().join(', ')} } from '${coreImport}';`];
  for (const [spec, names] of [...imports].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`import type { ${[...names].sort().join(', ')} } from '${spec}';`);
  }
  lines.push(`import { ${schemaConst(service.name)} } from './${stem}.descriptor.js';`);
  if (needsElement) {
    lines.push('');
    lines.push('/** The message type of a stream handler\'s parameter or result (AsyncIterable<T>, AsyncGenerator<T>, or a promise of one). */');
    lines.push('type SvcStreamElement<S> = Awaited<S> extends AsyncIterable<infer T> ? T : never;');
  }
  lines.push('');
  lines.push(`/** Typed client of the service ${service.name}${service.version ? ` (version ${service.version})` : ''}. */`);
  lines.push(`export class ${service.name}Client {`);
  lines.push(`  static readonly service = ${JSON.stringify(service.name)};`);
  lines.push(`  static readonly schema = ${schemaConst(service.name)};`);
  lines.push('  readonly #client: Client;');
  lines.push('');
  lines.push('  constructor(client: Client) {');
  lines.push('    this.#client = client;');
  lines.push('  }');
  for (const m of methods) {
    lines.push('');
    lines.push(m);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

/**
 * A stream method (docs/streams.md): a server stream takes the request and returns the
 * AsyncIterable of the server's messages; client and bidi streams take the messages as an
 * AsyncIterable or an Iterable. Core's generics are <Res, Req>.
 */
function streamMethod(service: string, m: DraftMethod, spell: (ref: TsTypeRef, property: string) => string): string {
  const name = `${JSON.stringify(service)}, ${JSON.stringify(m.name)}`;
  const options = 'options?: StreamOptions';
  const res = spell(m.responseTs, m.property);
  const what = m.stream === 'server' ? 'server stream' : m.stream === 'client' ? 'client stream' : 'bidirectional stream';
  const doc = `  /** ${service}.${m.name} (${what}) — ${m.source} */\n`;
  const body = (signature: string, call: string): string => `${doc}  ${m.property}(${signature} {\n    return ${call};\n  }`;
  if (m.stream === 'server') {
    const call = `this.#client.serverStream<${res}>(${name}, ${m.requestTs.kind === 'none' ? 'undefined' : m.paramName}, options)`;
    if (m.requestTs.kind === 'none') return body(`${options}): AsyncIterable<${res}>`, call);
    return body(`${m.paramName}: ${spell(m.requestTs, m.property)}, ${options}): AsyncIterable<${res}>`, call);
  }
  const req = spell(m.requestTs, m.property);
  const source = `${m.paramName}: AsyncIterable<${req}> | Iterable<${req}>`;
  if (m.stream === 'client') return body(`${source}, ${options}): Promise<${res}>`, `this.#client.clientStream<${res}, ${req}>(${name}, ${m.paramName}, options)`);
  return body(`${source}, ${options}): AsyncIterable<${res}>`, `this.#client.bidiStream<${res}, ${req}>(${name}, ${m.paramName}, options)`);
}

/** `../arith.js` from src/generated to src/arith.ts. */
export function importPath(outDir: string, file: string): string {
  let rel = posix.relative(outDir, file).replace(/\.(c|m)?tsx?$/, (_, m: string | undefined) => `.${m ?? ''}js`);
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}
