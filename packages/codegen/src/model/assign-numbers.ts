import type { EnumSchema, EnumValueSchema, FieldSchema, FieldType, MessageSchema, ServiceSchema, StreamShape } from '@svc/core';
import type { DraftService } from './draft.js';
import { upperSnake } from './naming.js';
import { emptyServiceLock, type Lock, type MessageLock, type ServiceLock, type EnumLock } from './lock.js';

/** A change that breaks callers built against the locked schema. */
export interface WireChange {
  readonly breaking: boolean;
  /** `Arith.MulArgs.a` */
  readonly subject: string;
  readonly message: string;
  /** Where in the user's code, when known. */
  readonly source?: string;
}

export interface Numbered {
  readonly schema: ServiceSchema;
  readonly lock: ServiceLock;
  readonly changes: WireChange[];
}

/** The lock's short spelling of a field's wire type; a change of it is a breaking change. */
export function signature(type: FieldType): string {
  switch (type.kind) {
    case 'scalar': return type.scalar;
    case 'timestamp': return 'google.protobuf.Timestamp';
    case 'message': return type.name;
    case 'enum': return `enum ${type.name}`;
    case 'list': return `repeated ${signature(type.element)}`;
    case 'map': return `map<${type.key}, ${signature(type.value)}>`;
  }
}

/**
 * Gives every field and enum value its number: the locked number if it has one, else the next
 * never-used number of its message. Removed fields and values become reserved. The result is
 * the runtime schema, the service's new lock entry, and the list of wire changes.
 */
export function assignNumbers(draft: DraftService, previous: ServiceLock | undefined): Numbered {
  const old = previous ?? emptyServiceLock(draft.package);
  const changes: WireChange[] = [];
  const lock: ServiceLock = { package: draft.package, methods: {}, messages: {}, enums: {} };

  const messages: MessageSchema[] = draft.messages.map((m) => {
    const before: MessageLock = old.messages[m.name] ?? { fields: {}, reserved: [] };
    const after: MessageLock = { fields: {}, reserved: [...before.reserved] };
    let next = Math.max(0, ...Object.values(before.fields).map((f) => f.no), ...before.reserved.map((r) => r.no)) + 1;
    const reservedNos = new Set(before.reserved.map((r) => r.no));
    const fields: FieldSchema[] = m.fields.map((f) => {
      const sig = f.tag !== undefined ? `${signature(f.type)} (${String(f.tag)})` : signature(f.type);
      const locked = before.fields[f.name];
      let no: number;
      if (locked && locked.type === sig) {
        no = locked.no;
      } else {
        if (locked) {
          changes.push({ breaking: true, subject: `${draft.name}.${m.name}.${f.name}`, message: `type changed from ${locked.type} to ${sig} (field ${locked.no} is reserved, the field gets number ${next})`, source: m.source });
          after.reserved.push({ no: locked.no, name: f.name });
          reservedNos.add(locked.no);
        } else if (previous?.messages[m.name]) {
          changes.push({ breaking: false, subject: `${draft.name}.${m.name}.${f.name}`, message: `new field, number ${next}`, source: m.source });
        }
        while (reservedNos.has(next)) next++;
        no = next++;
      }
      after.fields[f.name] = { no, type: sig };
      return { name: f.name, no, type: f.type, ...(f.optional ? { optional: true } : {}), ...(f.nullable ? { nullable: true } : {}), ...(f.tag !== undefined ? { tag: f.tag } : {}) };
    });
    for (const [name, locked] of Object.entries(before.fields)) {
      if (after.fields[name] || after.reserved.some((r) => r.no === locked.no)) continue;
      after.reserved.push({ no: locked.no, name });
      changes.push({ breaking: false, subject: `${draft.name}.${m.name}.${name}`, message: `field removed; number ${locked.no} and the name are reserved`, source: m.source });
    }
    after.reserved.sort((a, b) => a.no - b.no);
    lock.messages[m.name] = after;
    const reserved = after.reserved.length
      ? { reserved: { numbers: after.reserved.map((r) => r.no), names: [...new Set(after.reserved.map((r) => r.name))].filter((n) => !after.fields[n]) } }
      : {};
    return { name: m.name, fields, ...(m.discriminant !== undefined ? { discriminant: m.discriminant } : {}), ...reserved, source: m.source };
  });

  const enums: EnumSchema[] = draft.enums.map((e) => {
    const before: EnumLock = old.enums[e.name] ?? { values: {}, reserved: [] };
    const after: EnumLock = { values: {}, reserved: [...before.reserved] };
    const reservedNos = new Set(before.reserved.map((r) => r.no));
    let next = Math.max(0, ...Object.values(before.values), ...before.reserved.map((r) => r.no)) + 1;
    const values: EnumValueSchema[] = [];
    const zero = e.values.find((v) => v.fixed === 0);
    if (!zero) values.push({ name: `${upperSnake(e.name)}_UNSPECIFIED`, no: 0 });
    for (const v of e.values) {
      const locked = before.values[v.name];
      let no: number;
      if (v.fixed !== undefined) {
        no = v.fixed;
        if (locked !== undefined && locked !== no) changes.push({ breaking: true, subject: `${draft.name}.${e.name}.${v.name}`, message: `value changed from ${locked} to ${no}`, source: e.source });
        const reused = after.reserved.findIndex((r) => r.no === no);
        if (reused >= 0) {
          changes.push({ breaking: true, subject: `${draft.name}.${e.name}.${v.name}`, message: `reuses number ${no}, reserved since ${after.reserved[reused]!.name} was removed; old peers read it as that value`, source: e.source });
          after.reserved.splice(reused, 1);
        }
      } else if (locked !== undefined) {
        no = locked;
      } else {
        while (reservedNos.has(next)) next++;
        no = next++;
        if (previous?.enums[e.name]) changes.push({ breaking: false, subject: `${draft.name}.${e.name}.${v.name}`, message: `new value, number ${no}`, source: e.source });
      }
      after.values[v.name] = no;
      values.push({ name: v.name, no, value: v.value });
    }
    for (const [name, no] of Object.entries(before.values)) {
      if (after.values[name] !== undefined) continue;
      if (!after.reserved.some((r) => r.no === no)) after.reserved.push({ no, name });
      changes.push({ breaking: true, subject: `${draft.name}.${e.name}.${name}`, message: `enum value removed (number ${no} is reserved); callers that send it get INVALID_ARGUMENT`, source: e.source });
    }
    after.reserved.sort((a, b) => a.no - b.no);
    lock.enums[e.name] = after;
    const used = new Set(values.map((v) => v.no));
    const reservedNumbers = after.reserved.map((r) => r.no).filter((n) => !used.has(n));
    const reserved = reservedNumbers.length ? { reserved: { numbers: reservedNumbers, names: after.reserved.filter((r) => !used.has(r.no)).map((r) => r.name) } } : {};
    return { name: e.name, values, ...reserved, source: e.source };
  });

  for (const m of draft.methods) {
    const entry = { request: m.request, response: m.response, ...(m.stream ? { stream: m.stream } : {}) };
    lock.methods[m.name] = entry;
    const locked = old.methods[m.name];
    if (!locked) continue;
    if (locked.stream !== entry.stream) {
      // A unary call of a stream method (or the other way round) fails with UNIMPLEMENTED.
      changes.push({ breaking: true, subject: `${draft.name}.${m.name}`, message: `shape changed from ${shapeName(locked.stream)} to ${shapeName(entry.stream)}; callers built before get UNIMPLEMENTED`, source: m.source });
    }
    for (const side of ['request', 'response'] as const) {
      if (locked[side] !== entry[side]) {
        changes.push({ breaking: true, subject: `${draft.name}.${m.name}`, message: `${side} type changed from ${locked[side] ?? 'nothing'} to ${entry[side] ?? 'nothing'}`, source: m.source });
      }
    }
  }
  if (draft.events.length) lock.events = {};
  for (const e of draft.events) {
    lock.events![e.topic] = e.message;
    const locked = old.events?.[e.topic];
    if (locked !== undefined && locked !== e.message) {
      changes.push({ breaking: true, subject: `${draft.name} '${e.topic}'`, message: `event payload changed from ${locked ?? 'nothing'} to ${e.message ?? 'nothing'}; events from publishers built before are misread`, source: e.source.replace(/:\d+$/, '') });
    }
  }
  for (const topic of Object.keys(old.events ?? {})) {
    if (!(topic in (lock.events ?? {}))) changes.push({ breaking: false, subject: `${draft.name} '${topic}'`, message: `no longer subscribed; events on it reach no handler of ${draft.name}`, source: draft.source });
  }
  for (const name of Object.keys(old.methods)) {
    if (!lock.methods[name]) changes.push({ breaking: true, subject: `${draft.name}.${name}`, message: 'method removed; callers get UNIMPLEMENTED', source: draft.source });
  }

  const schema: ServiceSchema = {
    schemaVersion: 1,
    service: draft.name,
    package: draft.package,
    methods: draft.methods.map((m) => ({
      name: m.name,
      request: m.request,
      response: m.response,
      ...(m.requestWrapped ? { requestWrapped: true } : {}),
      ...(m.responseWrapped ? { responseWrapped: true } : {}),
      // How it is called: a client that holds the schema refuses the other ways before sending.
      ...(m.stream ? { stream: m.stream } : {}),
      // What the client's fail modes need to know; not wire numbering, so not in the lock.
      ...(m.idempotent ? { idempotent: true } : {}),
      ...(m.timeout !== undefined ? { timeout: m.timeout } : {}),
    })),
    messages,
    enums,
    // Left out without @Subscribe, so services without events keep their descriptors as they were.
    ...(draft.events.length ? { events: draft.events.map((e) => ({ topic: e.topic, message: e.message, ...(e.wrapped ? { wrapped: true } : {}) })) } : {}),
  };
  return { schema, lock, changes };
}

function shapeName(shape: StreamShape | undefined): string {
  return shape === undefined ? 'unary' : shape === 'bidi' ? 'bidirectional stream' : `${shape} stream`;
}

/** Services in the lock that the code no longer declares. */
export function removedServices(lock: Lock, present: ReadonlySet<string>): WireChange[] {
  return Object.keys(lock.services)
    .filter((name) => !present.has(name))
    .map((name) => ({ breaking: true, subject: name, message: 'service removed; callers get UNIMPLEMENTED' }));
}
