import { Node, type ClassDeclaration, type Decorator, type MethodDeclaration, type Project, type SourceFile, type Type } from 'ts-morph';
import { AggregateErrors, CodegenError, CodegenWarning, collecting } from '../errors.js';
import type { DraftEvent, DraftField, DraftMethod, DraftService, TsTypeRef } from '../model/draft.js';
import { isIdentifier, pascal, snake } from '../model/naming.js';
import { TypeMapper, relative, type Site } from './type-mapper.js';
import { svcDecorators } from './svc-decorators.js';
import { constantBoolean, constantNumber, isUndefinedValue } from './constant-value.js';

export interface ReadResult {
  readonly services: DraftService[];
  readonly errors: Error[];
}

/** The files svc-gen reads: the project's own sources, not declarations, not its own output. */
export function candidateFiles(project: Project, outDir: string): SourceFile[] {
  return project.getSourceFiles().filter((sf) => {
    const path = sf.getFilePath();
    return !sf.isDeclarationFile() && !path.includes('/node_modules/') && !path.startsWith(outDir + '/');
  });
}

/** Every @Service class of the given files, mapped to the schema model. */
export function readServices(files: readonly SourceFile[], root: string): ReadResult {
  const services: DraftService[] = [];
  const errors: Error[] = [];
  for (const sf of files) {
    for (const cls of sf.getClasses()) {
      const decorators = cls.getDecorators();
      if (decorators.length === 0) continue;
      const decorator = svcDecorators(decorators, 'Service')[0];
      if (!decorator) continue;
      try {
        services.push(readService(cls, decorator, root));
      } catch (error) {
        if (error instanceof AggregateErrors) errors.push(...error.errors);
        else errors.push(error as Error);
      }
    }
  }
  errors.push(...topicConflicts(services));
  const byName = new Map<string, DraftService>();
  for (const s of services) {
    const other = byName.get(s.name);
    if (other) errors.push(new CodegenError(s.source, s.name, `two classes declare the service '${s.name}' (also ${other.source})`, 'Give one of them another name: @Service(\'OtherName\')'));
    byName.set(s.name, s);
  }
  return { services, errors };
}

/** Subscribers of one topic in different services must agree on its payload type. */
function topicConflicts(services: readonly DraftService[]): CodegenError[] {
  const first = new Map<string, { service: DraftService; message: string | null }>();
  const errors: CodegenError[] = [];
  for (const service of services) {
    for (const e of service.events) {
      const seen = first.get(e.topic);
      if (!seen) first.set(e.topic, { service, message: e.message });
      else if (seen.message !== e.message) {
        const other = seen.service.events.find((x) => x.topic === e.topic)!;
        errors.push(new CodegenError(e.source, `${service.name}.${e.property} ('${e.topic}')`, `the topic '${e.topic}' is handled with the payload ${e.message ?? 'none'} here and with ${seen.message ?? 'none'} by ${seen.service.name}.${other.property} (${other.source}); one topic carries one payload type`, 'Give both handlers the same payload type, or publish the two kinds on two topics'));
      }
    }
  }
  return errors;
}

function readService(cls: ClassDeclaration, decorator: Decorator, root: string): DraftService {
  const mapper = new TypeMapper(root);
  const args = decorator.getArguments();
  const first = args[0];
  const className = cls.getName() ?? '';
  let name = className;
  if (first && Node.isStringLiteral(first)) name = first.getLiteralValue();
  const version = objectLiteralString(args[1], 'version');
  const source = mapper.where(cls);
  if (!name) throw new CodegenError(source, '@Service', 'an anonymous class needs a service name', "Write @Service('Name')");
  if (!isIdentifier(name)) throw new CodegenError(source, name, `the service name '${name}' is not a protobuf identifier`, 'Use letters, digits and _');
  if (!className) throw new CodegenError(source, name, 'the service class needs a name for the generated client to refer to', 'Name the class');
  const file = cls.getSourceFile().getFilePath();
  mapper.dependencies.add(file);
  const methods: DraftMethod[] = [];
  const events: DraftEvent[] = [];
  const seen = new Set<string>();
  const errors: Error[] = [];
  const warnings: CodegenWarning[] = [];
  for (let c: ClassDeclaration | undefined = cls; c; c = c.getBaseClass()) {
    mapper.dependencies.add(c.getSourceFile().getFilePath());
    for (const m of c.getInstanceMethods()) {
      const property = m.getName();
      if (seen.has(property)) continue;
      seen.add(property);
      const decorators = m.getDecorators();
      if (decorators.length === 0) continue;
      for (const sd of svcDecorators(decorators, 'Subscribe')) {
        try {
          const event = readEvent(name, m, sd, mapper);
          if (event) addEvent(events, event);
        } catch (error) {
          errors.push(error as Error);
        }
      }
      const md = svcDecorators(decorators, 'Method')[0];
      if (!md) continue;
      try {
        methods.push(readMethod(name, m, md, mapper, warnings));
      } catch (error) {
        errors.push(error as Error);
      }
    }
  }
  if (errors.length > 0) throw AggregateErrors.of(errors);
  const wireNames = new Set<string>();
  for (const m of methods) {
    if (wireNames.has(m.name)) throw new CodegenError(m.source, `${name}.${m.name}`, `two methods share the wire name '${m.name}'`, 'Give one of them another name: @Method({ name: ... })');
    wireNames.add(m.name);
  }
  return {
    name,
    package: snake(name),
    className,
    file,
    classExported: cls.isExported(),
    ...(version !== undefined ? { version } : {}),
    methods,
    events,
    messages: [...mapper.messages.values()],
    enums: [...mapper.enums.values()],
    warnings,
    dependencies: mapper.dependencies,
    source: source.replace(/:\d+$/, ''),
  };
}

function readMethod(service: string, m: MethodDeclaration, md: Decorator, mapper: TypeMapper, warnings: CodegenWarning[]): DraftMethod {
  const property = m.getName();
  const options = md.getArguments()[0];
  const name = objectLiteralString(options, 'name') ?? property;
  const where = mapper.where(m);
  const label = `${service}.${name}`;
  if (!isIdentifier(name)) throw new CodegenError(where, label, `the method name '${name}' is not a protobuf identifier`, 'Use letters, digits and _');
  const idempotent = readIdempotent(options, label, mapper, warnings);
  const timeout = readTimeout(options, label, mapper, warnings);

  // A request and a response that both cannot travel are reported together.
  const problems: Error[] = [];
  const param = m.getParameters()[0];
  let request: string | null = null;
  let requestWrapped = false;
  let requestTs: TsTypeRef = { kind: 'none' };
  let streamsRequest = false;
  const paramName = param?.getName() ?? 'request';
  if (param) {
    if (!Node.isIdentifier(param.getNameNode())) throw new CodegenError(mapper.where(param), label, 'the request parameter is destructured', `Name it (args: T) and destructure inside the method`);
    const typeNode = param.getTypeNode();
    if (!typeNode) throw new CodegenError(mapper.where(param), `${label} → ${paramName}`, 'the request parameter has no type annotation', 'Annotate it: (args: MulArgs)');
    const iterable = iterableOf(param.getType());
    if (iterable && iterable.name !== 'AsyncIterable') {
      throw new CodegenError(mapper.where(param), `${label} → ${paramName}`, `a client stream's messages arrive as an AsyncIterable, not a${/^[AEIOU]/.test(iterable.name) ? 'n' : ''} ${iterable.name}`, `Type the parameter AsyncIterable<${iterable.element?.getText(param) ?? 'C'}>`);
    }
    if (iterable) {
      // A client (or bidi) stream: the element is the request message, mapped as a unary request is.
      streamsRequest = true;
      const elementNode = elementTypeNode(typeNode);
      const element = iterable.element;
      if (element && !(element.isVoid() || element.isUndefined())) {
        const site: Site = { path: `${label} → ${paramName} (each message)`, node: param, nameHint: `${pascal(name)}Request`, ...(elementNode ? { typeNode: elementNode } : {}) };
        const top = collecting(problems, () => topLevel(element, site, mapper, false));
        if (top) {
          request = top.name;
          requestWrapped = top.wrapped;
        }
        requestTs = elementNode ? typeRef(elementNode, 'paramElement') : { kind: 'paramElement' };
      } else {
        requestTs = { kind: 'text', text: 'void' };
      }
    } else {
      const site: Site = { path: `${label} → ${paramName}`, node: param, nameHint: `${pascal(name)}Request`, typeNode };
      const top = collecting(problems, () => topLevel(param.getType(), site, mapper, param.isOptional() || param.hasInitializer()));
      if (top) {
        request = top.name;
        requestWrapped = top.wrapped;
      }
      requestTs = typeRef(typeNode, 'param');
    }
  }

  let response: string | null = null;
  let responseWrapped = false;
  let responseTs: TsTypeRef = { kind: 'none' };
  let streamsResponse = false;
  let returnNode = m.getReturnTypeNode();
  if (!returnNode) throw new CodegenError(where, `${label} → returns`, 'the method has no return type annotation', 'Annotate it: async mul(args: MulArgs): Promise<MulReply>');
  const returned = awaited(m.getReturnType());
  if (returnNode && Node.isTypeReference(returnNode) && returnNode.getTypeName().getText() === 'Promise') returnNode = returnNode.getTypeArguments()[0];
  const iterable = iterableOf(returned);
  if (iterable && !RESPONSE_STREAMS.has(iterable.name)) {
    throw new CodegenError(where, `${label} → returns`, `a${/^[AEIOU]/.test(iterable.name) ? 'n' : ''} ${iterable.name} is not a stream: the server sends the messages of an AsyncIterable only`, `Make the method an async * generator (async *${property}(…): AsyncGenerator<${iterable.element?.getText(m) ?? 'E'}>), or return an AsyncIterable`);
  }
  if (iterable) {
    // A server (or bidi) stream: each element is a response message.
    streamsResponse = true;
    const elementNode = returnNode ? elementTypeNode(returnNode) : undefined;
    const element = iterable.element;
    if (element && !(element.isVoid() || element.isUndefined())) {
      const site: Site = { path: `${label} → returns (each message)`, node: m, nameHint: `${pascal(name)}Response`, ...(elementNode ? { typeNode: elementNode } : {}) };
      const top = collecting(problems, () => topLevel(element, site, mapper, false));
      if (top) {
        response = top.name;
        responseWrapped = top.wrapped;
      }
      responseTs = elementNode ? typeRef(elementNode, 'resultElement') : { kind: 'resultElement' };
    } else {
      responseTs = { kind: 'text', text: 'void' };
    }
  } else if (!(returned.isVoid() || returned.isUndefined())) {
    const site: Site = { path: `${label} → returns`, node: m, nameHint: `${pascal(name)}Response`, ...(returnNode ? { typeNode: returnNode } : {}) };
    const top = collecting(problems, () => topLevel(returned, site, mapper, false));
    if (top) {
      response = top.name;
      responseWrapped = top.wrapped;
    }
    responseTs = returnNode ? typeRef(returnNode, 'result') : { kind: 'result' };
  }
  const stream = streamsRequest ? (streamsResponse ? 'bidi' : 'client') : streamsResponse ? 'server' : undefined;
  if (problems.length > 0) throw AggregateErrors.of(problems);
  return {
    name, property, request, response, requestWrapped, responseWrapped, paramName, requestTs, responseTs,
    ...(stream ? { stream } : {}),
    ...(idempotent ? { idempotent } : {}),
    ...(timeout !== undefined ? { timeout } : {}),
    source: where.replace(/:\d+$/, ''),
  };
}

/** A @Subscribe('topic') method: a literal topic, and its payload (the first parameter) as a message; undefined for a pattern. */
function readEvent(service: string, m: MethodDeclaration, sd: Decorator, mapper: TypeMapper): DraftEvent | undefined {
  const property = m.getName();
  const where = mapper.where(sd);
  const arg = sd.getArguments()[0];
  if (!arg || !(Node.isStringLiteral(arg) || Node.isNoSubstitutionTemplateLiteral(arg))) {
    throw new CodegenError(where, `${service}.${property}`, `the topic of @Subscribe(${arg?.getText() ?? ''}) is not a string literal, so svc-gen cannot tie a payload type to it`, `Write the topic itself in the decorator: @Subscribe('orders.created')`);
  }
  const topic = arg.getLiteralValue();
  const label = `${service}.${property} ('${topic}')`;
  const tokens = topic.split('.');
  // A pattern ('audit.>', 'orders.*') names no topic to publish to: it is left out of the schema
  // and the publisher. Its handler still gets every matching event, checked against the schema
  // of the concrete topic where one exists, as plain JSON where none does.
  if (tokens.some((t) => t === '*' || t === '>')) return undefined;
  if (tokens.some((t) => t === '' || /\s/.test(t))) {
    throw new CodegenError(where, label, `'${topic}' is not a topic: dot-separated tokens without spaces`, `Write e.g. @Subscribe('orders.created')`);
  }
  const param = m.getParameters()[0];
  if (!param) return { topic, property, message: null, wrapped: false, payloadTs: { kind: 'none' }, source: where };
  const paramName = param.getName();
  if (!Node.isIdentifier(param.getNameNode())) throw new CodegenError(mapper.where(param), label, 'the payload parameter is destructured', 'Name it (order: Order) and destructure inside the method');
  const typeNode = param.getTypeNode();
  if (!typeNode) throw new CodegenError(mapper.where(param), `${label} → ${paramName}`, 'the payload parameter has no type annotation', 'Annotate it: (order: Order, ctx: EventContext)');
  const t = param.getType();
  if (t.isUndefined() || t.isVoid()) return { topic, property, message: null, wrapped: false, payloadTs: { kind: 'none' }, source: where };
  const site: Site = { path: `${label} → ${paramName}`, node: param, nameHint: `${pascal(topic)}Event`, typeNode };
  const top = topLevel(t, site, mapper, param.isOptional() || param.hasInitializer());
  return { topic, property, message: top.name, wrapped: top.wrapped, payloadTs: typeRef(typeNode, 'param'), source: where };
}

/** One entry per topic: a second handler of a topic must take the same payload. */
function addEvent(events: DraftEvent[], event: DraftEvent): void {
  const first = events.find((e) => e.topic === event.topic);
  if (!first) {
    events.push(event);
    return;
  }
  if (first.message === event.message && first.wrapped === event.wrapped) return;
  throw new CodegenError(event.source, `${event.property} ('${event.topic}')`, `the topic '${event.topic}' is handled with the payload ${event.message ?? 'none'} here and with ${first.message ?? 'none'} by ${first.property} (${first.source}); one topic carries one payload type`, 'Give both handlers the same payload type, or publish the two kinds on two topics');
}

/** How the typed client spells a type: by its exported name where it has one, else through the class. */
function typeRef(node: Node, fallback: 'param' | 'result' | 'paramElement' | 'resultElement'): TsTypeRef {
  const text = node.getText();
  if (/^(string|number|boolean|bigint)(\[\])?$/.test(text)) return { kind: 'text', text };
  if (!Node.isTypeReference(node) || node.getTypeArguments().length > 0) return { kind: fallback };
  const nameNode = node.getTypeName();
  if (!Node.isIdentifier(nameNode)) return { kind: fallback };
  let symbol = nameNode.getSymbol();
  if (symbol?.isAlias()) symbol = symbol.getAliasedSymbol();
  const decl = symbol?.getDeclarations()[0];
  if (!decl || !Node.isExportable(decl) || !decl.isExported()) return { kind: fallback };
  const file = decl.getSourceFile();
  if (file.isDeclarationFile() || file.getFilePath().includes('/node_modules/')) return { kind: fallback };
  if (!(Node.isInterfaceDeclaration(decl) || Node.isTypeAliasDeclaration(decl) || Node.isClassDeclaration(decl) || Node.isEnumDeclaration(decl))) return { kind: fallback };
  if (decl.getName() !== symbol!.getName()) return { kind: fallback };
  return { kind: 'named', name: symbol!.getName(), file: file.getFilePath() };
}

/** A request or response: an object is its own message; anything else is wrapped in one. */
function topLevel(t: Type, site: Site, mapper: TypeMapper, optionalParam: boolean): { name: string; wrapped: boolean } {
  const mapped = mapper.map(t, site);
  if (mapped.type.kind === 'message' && !mapped.optional && !mapped.nullable && !optionalParam) {
    return { name: mapped.type.name, wrapped: false };
  }
  const field: DraftField = {
    name: 'value',
    type: mapped.type,
    ...(mapped.optional || optionalParam ? { optional: true } : {}),
    ...(mapped.nullable ? { nullable: true } : {}),
  };
  const name = site.nameHint;
  if (mapper.messages.has(name)) throw new CodegenError(mapper.where(site.node), site.path, `the name '${name}' for the wrapper message is taken by a type of yours`, 'Rename that type');
  mapper.messages.set(name, { name, fields: [field], source: mapper.where(site.node).replace(/:\d+$/, '') });
  return { name, wrapped: true };
}

/** What a stream handler may return (core iterates any AsyncIterable; these are its usual spellings). */
const RESPONSE_STREAMS = new Set(['AsyncIterable', 'AsyncIterableIterator', 'AsyncGenerator', 'AsyncIteratorObject']);
/** Iterables of the standard library: the stream ones, and those that look like one but are not. */
const ITERABLES = new Set([...RESPONSE_STREAMS, 'Iterable', 'IterableIterator', 'Generator', 'IteratorObject']);

/** The standard library's iterable types, with their element type; undefined for anything else. */
function iterableOf(t: Type): { name: string; element: Type | undefined } | undefined {
  const symbol = t.getSymbol();
  const name = symbol?.getName();
  if (!name || !ITERABLES.has(name)) return undefined;
  const decl = symbol!.getDeclarations()[0];
  const file = decl?.getSourceFile();
  if (!file || !(file.isDeclarationFile() || file.isFromExternalLibrary())) return undefined;
  return { name, element: t.getTypeArguments()[0] };
}

/** `Tick` of a written `AsyncGenerator<Tick>` (or `AsyncIterable<Tick>`…), for the client's spelling. */
function elementTypeNode(node: Node): Node | undefined {
  if (!Node.isTypeReference(node)) return undefined;
  const nameNode = node.getTypeName();
  if (!Node.isIdentifier(nameNode) || !ITERABLES.has(nameNode.getText())) return undefined;
  return node.getTypeArguments()[0];
}

function awaited(t: Type): Type {
  const symbol = t.getSymbol();
  if (symbol?.getName() === 'Promise' || symbol?.getName() === 'PromiseLike') return awaited(t.getTypeArguments()[0]!);
  return t;
}

function objectLiteralProperty(node: Node | undefined, key: string): Node | undefined {
  if (!node || !Node.isObjectLiteralExpression(node)) return undefined;
  const prop = node.getProperty(key);
  if (prop && Node.isShorthandPropertyAssignment(prop)) return prop.getNameNode();
  return prop && Node.isPropertyAssignment(prop) ? prop.getInitializer() : undefined;
}

function objectLiteralString(node: Node | undefined, key: string): string | undefined {
  const value = objectLiteralProperty(node, key);
  return value && (Node.isStringLiteral(value) || Node.isNoSubstitutionTemplateLiteral(value)) ? value.getLiteralValue() : undefined;
}

/**
 * `@Method({ idempotent })`: true when it is `true` or a constant of type `true`. A value whose
 * type is only `boolean` is left out with a warning: retrying a method that is not idempotent
 * is the mistake to avoid, so svc-gen does not guess.
 */
function readIdempotent(options: Node | undefined, label: string, mapper: TypeMapper, warnings: CodegenWarning[]): boolean | undefined {
  const value = objectLiteralProperty(options, 'idempotent');
  if (!value) return undefined;
  const known = constantBoolean(value);
  if (known !== 'unknown') return known;
  warnings.push(new CodegenWarning(mapper.where(value), label, `svc-gen cannot tell whether idempotent (${value.getText()}) is true, so the schema does not mark the method idempotent and clients will not retry it once it was processed`, 'Write idempotent: true (or a const of the literal true)'));
  return undefined;
}

/**
 * `@Method({ timeout })` in ms, written into the schema when it evaluates (constant-value.ts) to
 * a positive finite number. 0 is the server's "no limit" and is left out silently; anything
 * else that is not a positive finite number, or that cannot be evaluated, is left out with a
 * warning. Leaving it out is safe: the server still applies the decorator's value at run time,
 * the client only does not know it.
 */
function readTimeout(options: Node | undefined, label: string, mapper: TypeMapper, warnings: CodegenWarning[]): number | undefined {
  const value = objectLiteralProperty(options, 'timeout');
  if (!value || isUndefinedValue(value)) return undefined;
  const timeout = constantNumber(value, mapper.dependencies);
  if (timeout !== undefined && timeout > 0 && Number.isFinite(timeout)) return timeout;
  if (timeout === 0) return undefined;
  const text = value.getText();
  const left = "so the schema leaves it out (the server still applies the decorator's value)";
  if (timeout === undefined) {
    warnings.push(new CodegenWarning(mapper.where(value), label, `svc-gen cannot evaluate the timeout ${text} to a number, ${left}`, 'Write a number literal (timeout: 5_000), a const of one (const TIMEOUT = 5_000), or a product of those (5 * SECOND)'));
  } else {
    const shown = String(timeout) === text ? text : `${text} (${timeout})`;
    warnings.push(new CodegenWarning(mapper.where(value), label, `the timeout ${shown} is not a positive finite number of milliseconds, ${left}`, 'Write a positive number of milliseconds, or no timeout for none'));
  }
  return undefined;
}

export { relative };
