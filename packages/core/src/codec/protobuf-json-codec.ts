import type { MethodSerializers } from './codec.js';
import { jsonCodec } from './json-codec.js';
import { schemaTypeMissing, undecodableJson, valueTooDeep } from '../errors/framework-errors.js';
import protobuf from 'protobufjs';
import { withPaths, type Side, type Subject } from './protobuf-paths.js';
import { WireSchema } from './protobuf-wire.js';
import { isLongScalar, type FieldType, type MessageSchema, type ServiceSchema } from './protobuf-schema.js';
import { checkedSchemas, protobufCodec, type ProtobufCodecOptions } from './protobuf-codec.js';
import type { EventCodec, EventSerializers } from '../events/event-codec.js';
import { INVALID, SchemaJsonCompiler, type CompiledJson } from './schema-json-compiler.js';

const EMPTY = new Uint8Array(0);

/**
 * JSON that knows the schemas svc-gen generated: the same name on the wire ('json'), so it
 * replaces the built-in JSON codec (`new Server({ codecs: [schemaJsonCodec({ schemas })] })`).
 * For services with a schema, bigint travels as a decimal string, Date as an ISO string,
 * Uint8Array as base64 and Map as an object, and every value is checked against the schema
 * like the protobuf codec does: a JSON caller (a gateway, curl, another language) cannot hand a
 * handler malformed input either. Services without a schema get plain JSON.
 */
export function schemaJsonCodec(options: ProtobufCodecOptions | readonly ServiceSchema[]): EventCodec {
  const schemas = Array.isArray(options) ? (options as readonly ServiceSchema[]) : (options as ProtobufCodecOptions).schemas;
  const plain = jsonCodec();
  const converters = new Map<string, Converter>();
  for (const schema of checkedSchemas('schemaJsonCodec', schemas).values()) converters.set(schema.service, new Converter(schema));
  const cache = new Map<string, MethodSerializers | undefined>();
  const eventCache = new Map<string, EventSerializers | undefined>();
  const byTopic = new Map<string, Converter>();
  for (const schema of schemas) for (const e of schema.events ?? []) if (!byTopic.has(e.topic)) byTopic.set(e.topic, converters.get(schema.service)!);
  return {
    forEvent(topic: string): EventSerializers | undefined {
      if (eventCache.has(topic)) return eventCache.get(topic);
      const converter = byTopic.get(topic);
      const e = converter?.schema.events?.find((x) => x.topic === topic);
      let serializers: EventSerializers | undefined;
      if (converter && e) {
        // Checked like a request, and said of the payload: `event 'orders.created': payload.qty …`.
        const about: Subject = { label: `event '${topic}'`, noun: 'payload', wrapped: e.wrapped === true, wrappedField: true };
        serializers = {
          encode: encoder(converter, e.message, e.wrapped === true, 'request', about),
          decode: decoder(converter, e.message, e.wrapped === true, 'request', about),
        };
      }
      eventCache.set(topic, serializers);
      return serializers;
    },
    name: 'json',
    forMethod(service: string, method: string): MethodSerializers | undefined {
      const converter = converters.get(service);
      if (!converter) return plain.forMethod(service, method);
      const key = `${service}\u0000${method}`;
      if (cache.has(key)) return cache.get(key);
      const m = converter.schema.methods.find((x) => x.name === method);
      const label = `${service}.${method}`;
      // An encoder's schema errors carry no label (as they never have); a decoder's do.
      const about = (side: Side, wrapped: boolean): Subject => ({ label, noun: side, wrapped, wrappedField: false });
      const serializers = m && {
        encodeRequest: encoder(converter, m.request, m.requestWrapped === true, 'request', undefined, label),
        decodeRequest: decoder(converter, m.request, m.requestWrapped === true, 'request', about('request', m.requestWrapped === true)),
        encodeResponse: encoder(converter, m.response, m.responseWrapped === true, 'response', undefined, label),
        decodeResponse: decoder(converter, m.response, m.responseWrapped === true, 'response', about('response', m.responseWrapped === true)),
      };
      cache.set(key, serializers);
      return serializers;
    },
  };
}

/**
 * The schema's messages (for reviving), its wire format (whose encoder is the validation) and
 * its compiled JSON (the fast path for values and text in the common form).
 */
class Converter {
  private readonly messages = new Map<string, MessageSchema>();
  readonly wire: WireSchema;
  private compiler: SchemaJsonCompiler | undefined;

  constructor(readonly schema: ServiceSchema) {
    for (const m of schema.messages) this.messages.set(m.name, m);
    this.wire = new WireSchema(schema);
  }

  fast(name: string, wrapped: boolean): CompiledJson | undefined {
    return (this.compiler ??= new SchemaJsonCompiler(this.schema)).compile(name, wrapped);
  }

  message(name: string): MessageSchema {
    const m = this.messages.get(name);
    if (!m) throw schemaTypeMissing(this.schema.service, 'message', name);
    return m;
  }

  /** Checks a value exactly as the protobuf codec does (by encoding it), so both refuse the same. */
  check(name: string, value: unknown, side: Side, about: Subject | undefined): void {
    const message = this.wire.message(name);
    withPaths((path) => message.encode(protobuf.Writer.create(), value, path, side), about);
  }
}

function encoder(converter: Converter, name: string | null, wrapped: boolean, side: Side, about: Subject | undefined, label = about?.label ?? ''): (value: unknown) => Uint8Array {
  if (name === null) return () => EMPTY;
  const fast = converter.fast(name, wrapped);
  const noun = about?.noun ?? side;
  return (value) => {
    try {
      // The fast path writes only values the check below would pass; anything else comes here.
      const bytes = fast?.encode(value);
      if (bytes !== undefined) return bytes;
      converter.check(name, wrapped ? { value } : value, side, about);
      // An absent wrapped value (an optional parameter, a nullable result left undefined) is an empty body.
      const text = JSON.stringify(value, replacer) as string | undefined;
      return text === undefined ? EMPTY : Buffer.from(text);
    } catch (error) {
      // A value nested deeper than the stack, or one that refers to itself.
      if (error instanceof RangeError) throw valueTooDeep(label, side, noun, error);
      throw error;
    }
  };
}

function decoder(converter: Converter, name: string | null, wrapped: boolean, side: Side, about: Subject): (bytes: Uint8Array) => unknown {
  if (name === null) return () => undefined;
  const message = converter.message(name);
  const fast = converter.fast(name, wrapped);
  const label = about.label ?? '';
  return (bytes) => {
    try {
      let parsed = parseBody(bytes, side, label, about.noun);
      if (fast !== undefined && parsed !== undefined) {
        // A body whose every field is as the schema says needs nothing more than the fast check.
        const checked = fast.check(parsed);
        if (checked !== INVALID) return checked;
        parsed = parseBody(bytes, side, label, about.noun);
      }
      const revived = wrapped ? reviveField(converter, message.fields[0]!.type, parsed) : reviveMessage(converter, message, parsed);
      converter.check(name, wrapped ? { value: revived } : revived, side, about);
      return revived;
    } catch (error) {
      // JSON nested deeper than the stack (a recursive message): the checks recurse with it.
      if (error instanceof RangeError) throw valueTooDeep(label, side, about.noun, error);
      throw error;
    }
  };
}

function parseBody(bytes: Uint8Array, side: Side, label: string, noun: string): unknown {
  if (bytes.length === 0) return undefined;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (error) {
    throw undecodableJson(label, side, noun, error);
  }
}

/** JSON.stringify's view of the TypeScript-only values. */
function replacer(this: unknown, key: string, value: unknown): unknown {
  // `value` is after toJSON (a Buffer would be { type, data }); the holder has the original.
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.length).toString('base64');
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [typeof k === 'bigint' ? k.toString() : String(k), v]));
  return value;
}

/** The names a plain object inherits (`__proto__`, `constructor`, `toString`, …). */
const INHERITED: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/** Turns the JSON forms back into bigint, Date, Uint8Array and Map where the schema says so. */
function reviveMessage(converter: Converter, message: MessageSchema, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const source = value as Record<string, unknown>;
  if (message.discriminant !== undefined) {
    const variant = message.fields.find((f) => f.tag === source[message.discriminant!]);
    return variant ? reviveField(converter, variant.type, source) : value;
  }
  // A spread defines own properties, `__proto__` too (JSON.parse makes it an own one).
  const out: Record<string, unknown> = { ...source };
  for (const f of message.fields) {
    // A field named like a member of Object.prototype is the value's only when it is its own.
    if (INHERITED.has(f.name)) {
      const v = Object.hasOwn(out, f.name) ? out[f.name] : undefined;
      if (v !== undefined && v !== null) Object.defineProperty(out, f.name, { value: reviveField(converter, f.type, v), writable: true, enumerable: true, configurable: true });
    } else if (out[f.name] !== undefined && out[f.name] !== null) out[f.name] = reviveField(converter, f.type, out[f.name]);
  }
  return out;
}

function reviveField(converter: Converter, type: FieldType, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  switch (type.kind) {
    case 'scalar':
      if (isLongScalar(type.scalar) && (typeof value === 'string' ? /^-?[0-9]+$/.test(value) : Number.isSafeInteger(value))) return BigInt(value as string | number);
      if (type.scalar === 'bytes' && typeof value === 'string') return new Uint8Array(Buffer.from(value, 'base64'));
      return value;
    case 'timestamp':
      return typeof value === 'string' || typeof value === 'number' ? new Date(value) : value;
    case 'enum':
      return value;
    case 'message':
      return reviveMessage(converter, converter.message(type.name), value);
    case 'list':
      return Array.isArray(value) ? value.map((v) => reviveField(converter, type.element, v)) : value;
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) return value;
      const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => [type.js === 'map' ? reviveKey(type.key, k) : k, reviveField(converter, type.value, v)] as const);
      // Object.fromEntries defines each key (a `__proto__` entry stays an entry).
      return type.js === 'map' ? new Map(entries) : Object.fromEntries(entries);
    }
  }
}

function reviveKey(key: string, k: string): unknown {
  if (key === 'string') return k;
  if (key === 'bool') return k === 'true' ? true : k === 'false' ? false : k;
  if (isLongScalar(key as never)) return /^-?[0-9]+$/.test(k) ? BigInt(k) : k;
  const n = Number(k);
  return Number.isNaN(n) ? k : n;
}

/**
 * The codecs for generated schemas, in the order to pass as `codecs` to a Client or a Server:
 * protobuf for services with a schema, then JSON that checks the same schemas (and is plain
 * JSON for every other service).
 *
 *   new Server({ transport, codecs: schemaCodecs(schemas) })
 */
export function schemaCodecs(schemas: readonly ServiceSchema[]): EventCodec[] {
  return [protobufCodec({ schemas }), schemaJsonCodec({ schemas })];
}
