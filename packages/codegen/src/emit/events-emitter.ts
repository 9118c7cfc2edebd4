import type { ServiceSchema } from '@svc/core';
import { CodegenError } from '../errors.js';
import type { DraftEvent, DraftService } from '../model/draft.js';
import { importPath } from './client-emitter.js';
import { tsHeader } from './header.js';

export interface EventsInput {
  readonly draft: DraftService;
  readonly schema: ServiceSchema;
}

/**
 * `events.ts`: the typed publisher of the whole project. Topics are not owned by one service
 * (any client publishes, every subscribing service gets them), so there is one `EventMap` of
 * every topic a @Subscribe takes → its payload type, and one `EventPublisher` whose
 * `publish(topic, payload)` accepts only those topics, each with its own payload type.
 */
export function emitEvents(services: readonly EventsInput[], outDir: string, coreImport: string): string {
  const imports = new Map<string, Set<string>>();
  const use = (file: string, name: string): void => {
    const spec = importPath(outDir, file);
    if (!imports.has(spec)) imports.set(spec, new Set());
    imports.get(spec)!.add(name);
  };
  const byTopic = new Map<string, { service: DraftService; event: DraftEvent }[]>();
  for (const { draft } of services) {
    for (const event of draft.events) byTopic.set(event.topic, [...(byTopic.get(event.topic) ?? []), { service: draft, event }]);
  }
  const entries: string[] = [];
  for (const topic of [...byTopic.keys()].sort()) {
    const handlers = byTopic.get(topic)!;
    const { service, event } = handlers[0]!;
    let type: string;
    switch (event.payloadTs.kind) {
      case 'named':
        use(event.payloadTs.file, event.payloadTs.name);
        type = event.payloadTs.name;
        break;
      case 'text':
        type = event.payloadTs.text;
        break;
      case 'none':
        type = 'void';
        break;
      default:
        if (!service.classExported) {
          throw new CodegenError(event.source, `${service.name}.${event.property} ('${topic}')`, `the typed publisher refers to the class ${service.className} for the payload type, which it cannot import by name, and the class is not exported`, `Export it (export class ${service.className}), or export the payload type`);
        }
        use(service.file, service.className);
        type = `Parameters<${service.className}['${event.property}']>[0]`;
    }
    const who = handlers.map((h) => `${h.service.name}.${h.event.property}`).join(', ');
    const message = event.message === null ? 'no payload' : `protobuf ${service.package}.${event.message}`;
    entries.push(`  /** ${who} — ${message} — ${event.source.replace(/:\d+$/, '')} */\n  ${JSON.stringify(topic)}: ${type};`);
  }
  const lines = [tsHeader('the @Subscribe methods of every @Service').trimEnd(), `import type { Client, PublishOptions } from '${coreImport}';`];
  for (const [spec, names] of [...imports].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`import type { ${[...names].sort().join(', ')} } from '${spec}';`);
  }
  lines.push(
    '',
    '/** Every topic a @Subscribe method of the project takes, and the type of its payload. */',
    'export interface EventMap {',
    entries.join('\n'),
    '}',
    '',
    'export type EventTopic = keyof EventMap;',
    '',
    '/** The payload and the options of a publish; the payload is left out for a topic without one. */',
    'export type PublishArgs<P> = [P] extends [void] ? [payload?: undefined, options?: PublishOptions] : [payload: P, options?: PublishOptions];',
    '',
    '/**',
    ' * Publishes the events of EventMap with their types: `new EventPublisher(client).publish(topic, payload)`.',
    ' * With the generated schemas on the Client, payloads travel as protobuf and are checked before they leave.',
    ' */',
    'export class EventPublisher {',
    '  readonly #client: Client;',
    '',
    '  constructor(client: Client) {',
    '    this.#client = client;',
    '  }',
    '',
    '  /**',
    '   * Resolves once the transport has taken the event (at most once; see docs/events.md). A topic',
    "   * without payload takes none: `publish('cache.flushed')`.",
    '   */',
    '  publish<T extends EventTopic>(topic: T, ...[payload, options]: PublishArgs<EventMap[T]>): Promise<void> {',
    '    return this.#client.publish(topic, payload, options);',
    '  }',
    '}',
  );
  return lines.join('\n') + '\n';
}

/**
 * Services that subscribe to one topic must read its payload alike: the same message with the
 * same field numbers (each service numbers its messages from its own part of svc.lock.json).
 */
export function eventNumberingConflicts(services: readonly EventsInput[]): CodegenError[] {
  const first = new Map<string, { input: EventsInput; message: string | null; shape: string }>();
  const errors: CodegenError[] = [];
  for (const input of services) {
    for (const e of input.schema.events ?? []) {
      const shape = e.message === null ? '' : messageShape(input.schema, e.message);
      const seen = first.get(e.topic);
      const event = input.draft.events.find((x) => x.topic === e.topic)!;
      if (!seen) first.set(e.topic, { input, message: e.message, shape });
      else if (seen.message !== e.message) {
        // The reader finds this among the files it reads; --watch reads only the changed ones.
        const other = seen.input.draft.events.find((x) => x.topic === e.topic)!;
        errors.push(new CodegenError(event.source, `${input.draft.name}.${event.property} ('${e.topic}')`, `the topic '${e.topic}' is handled with the payload ${e.message ?? 'none'} here and with ${seen.message ?? 'none'} by ${seen.input.draft.name}.${other.property} (${other.source}); one topic carries one payload type`, 'Give both handlers the same payload type, or publish the two kinds on two topics'));
      } else if (seen.shape !== shape) {
        errors.push(new CodegenError(event.source, `${input.draft.name}.${event.property} ('${e.topic}')`, `the payload ${e.message} of '${e.topic}' has other field numbers or enum values in ${input.draft.name} than in ${seen.input.draft.name} (their entries in svc.lock.json differ), so one would misread what the other's publishers send`, `Make the entries of ${e.message} (and the types it uses) under ${input.draft.name} and ${seen.input.draft.name} in svc.lock.json the same, keeping the one already deployed`));
      }
    }
  }
  return errors;
}

/** The wire shape of a message and of every message and enum it reaches, as a stable string. */
function messageShape(schema: ServiceSchema, root: string): string {
  const messages = new Map(schema.messages.map((m) => [m.name, m]));
  const enums = new Map(schema.enums.map((e) => [e.name, e]));
  const out: Record<string, unknown> = {};
  const visit = (name: string): void => {
    if (name in out) return;
    const m = messages.get(name);
    if (m) {
      out[name] = { d: m.discriminant, f: m.fields.map((f) => [f.name, f.no, f.type, f.optional, f.nullable, f.tag]) };
      for (const f of m.fields) visitType(f.type);
      return;
    }
    const e = enums.get(name);
    if (e) out[name] = e.values.map((v) => [v.no, v.value]);
  };
  const visitType = (t: ServiceSchema['messages'][number]['fields'][number]['type']): void => {
    if (t.kind === 'message' || t.kind === 'enum') visit(t.name);
    else if (t.kind === 'list') visitType(t.element);
    else if (t.kind === 'map') visitType(t.value);
  };
  visit(root);
  return JSON.stringify(Object.keys(out).sort().map((k) => [k, out[k]]));
}
