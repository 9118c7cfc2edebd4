import protobuf from 'protobufjs';
import type { Codec, MethodSerializers } from './codec.js';
import { RpcError } from '../errors/rpc-error.js';
import { SchemaConverter, bad, withPaths, type Side } from './protobuf-convert.js';
import { SCHEMA_VERSION, isLongScalar, type FieldType, type MessageSchema, type ServiceSchema } from './protobuf-schema.js';

export interface ProtobufCodecOptions {
  /** The schemas svc-gen generated (`schemas` from src/generated/index.ts, or single `ArithSchema`s). */
  schemas: readonly ServiceSchema[];
}

const EMPTY = new Uint8Array(0);

/**
 * The protobuf codec: carries the methods of the services whose schema it was given (other
 * methods fall through to the next codec, JSON in the end). Requests are checked against the
 * schema when encoded (client) and when decoded (server, before the handler runs): a bad field
 * is INVALID_ARGUMENT naming its path (`request.items[2].when`).
 */
export function protobufCodec(options: ProtobufCodecOptions | readonly ServiceSchema[]): Codec {
  const schemas = Array.isArray(options) ? (options as readonly ServiceSchema[]) : (options as ProtobufCodecOptions).schemas;
  const byService = new Map<string, ServiceSchema>();
  for (const schema of schemas) {
    if (schema.schemaVersion !== SCHEMA_VERSION) {
      throw new TypeError(`protobufCodec: the schema of ${schema.service} has format version ${String(schema.schemaVersion)}, this @svc/core reads ${SCHEMA_VERSION}; regenerate it with the svc-gen of this version`);
    }
    if (byService.has(schema.service)) throw new TypeError(`protobufCodec: two schemas for the service ${schema.service}; pass each once`);
    byService.set(schema.service, schema);
  }
  const services = new Map<string, CompiledService>();
  return {
    name: 'protobuf',
    forMethod(service: string, method: string): MethodSerializers | undefined {
      const schema = byService.get(service);
      if (!schema) return undefined;
      let compiled = services.get(service);
      if (!compiled) {
        compiled = new CompiledService(schema);
        services.set(service, compiled);
      }
      return compiled.serializers(method);
    },
  };
}

/** One service's schema as a protobufjs Root, with its converters. */
class CompiledService {
  private readonly root: protobuf.Root;
  private readonly converter: SchemaConverter;
  private readonly methods = new Map<string, MethodSerializers>();

  constructor(private readonly schema: ServiceSchema) {
    this.root = protobuf.Root.fromJSON(toProtobufJson(schema));
    this.converter = new SchemaConverter(schema);
  }

  serializers(method: string): MethodSerializers | undefined {
    const cached = this.methods.get(method);
    if (cached) return cached;
    const m = this.schema.methods.find((x) => x.name === method);
    if (!m) return undefined;
    const label = `${this.schema.service}.${method}`;
    const request = this.side(m.request, m.requestWrapped === true, 'request', label);
    const response = this.side(m.response, m.responseWrapped === true, 'response', label);
    const serializers: MethodSerializers = {
      encodeRequest: request.encode,
      decodeRequest: request.decode,
      encodeResponse: response.encode,
      decodeResponse: response.decode,
    };
    this.methods.set(method, serializers);
    return serializers;
  }

  private side(name: string | null, wrapped: boolean, side: Side, label: string): { encode(v: unknown): Uint8Array; decode(b: Uint8Array): unknown } {
    if (name === null) {
      return {
        encode: () => EMPTY,
        decode: () => undefined,
      };
    }
    const type = this.root.lookupType(`${this.schema.package}.${name}`);
    const message: MessageSchema = this.converter.message(name);
    const converter = this.converter;
    return {
      encode(value: unknown): Uint8Array {
        try {
          const input = wrapped ? { value } : value;
          const plain = withPaths((path) => converter.toWire(message, input, path, side));
          return type.encode(plain).finish();
        } catch (error) {
          throw withLabel(error, label);
        }
      },
      decode(bytes: Uint8Array): unknown {
        let decoded: Record<string, unknown>;
        try {
          decoded = type.decode(bytes) as unknown as Record<string, unknown>;
        } catch (error) {
          throw new RpcError(side === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL', `${label}: the ${side} body is not a valid protobuf ${name} (${(error as Error).message}); do both sides use the same generated schema?`, { cause: error });
        }
        try {
          const value = withPaths((path) => converter.fromWire(message, decoded, path, side));
          return wrapped ? value.value : value;
        } catch (error) {
          throw withLabel(error, label);
        }
      },
    };
  }
}

/** Prefixes a validation error with the method: `Catalog.echo: request.points[0].x expected …`. */
function withLabel(error: unknown, label: string): unknown {
  if (!RpcError.is(error)) return error;
  return new RpcError(error.code, `${label}: ${error.message.replace(/^(request|response)\.value\b/, '$1')}`, { details: error.details, cause: error.cause });
}

/** The schema as protobufjs JSON (the shape Root.fromJSON reads). */
export function toProtobufJson(schema: ServiceSchema): protobuf.INamespace {
  const nested: Record<string, protobuf.AnyNestedObject> = {};
  for (const m of schema.messages) {
    const fields: Record<string, protobuf.IField & { rule?: string; keyType?: string }> = {};
    const oneofs: Record<string, protobuf.IOneOf> = {};
    for (const f of m.fields) {
      fields[f.name] = fieldJson(f.type, f.no);
      if ((f.optional || f.nullable) && f.type.kind !== 'list' && f.type.kind !== 'map' && m.discriminant === undefined) {
        // proto3 `optional`: a synthetic oneof gives the field presence, so zeros still travel.
        fields[f.name]!.options = { proto3_optional: true };
        oneofs[`_${f.name}`] = { oneof: [f.name] };
      }
    }
    if (m.discriminant !== undefined) oneofs[m.discriminant] = { oneof: m.fields.map((f) => f.name) };
    const json: protobuf.IType = { fields, ...(Object.keys(oneofs).length ? { oneofs } : {}) };
    nested[m.name] = json;
  }
  for (const e of schema.enums) {
    nested[e.name] = { values: Object.fromEntries(e.values.map((v) => [v.name, v.no])) };
  }
  return {
    nested: {
      ...nestPackage(schema.package, nested),
      google: {
        nested: {
          protobuf: {
            nested: {
              Timestamp: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
              Empty: { fields: {} },
            },
          },
        },
      },
    },
  } as protobuf.INamespace;
}

function nestPackage(pkg: string, nested: Record<string, protobuf.AnyNestedObject>): Record<string, protobuf.AnyNestedObject> {
  const parts = pkg.split('.');
  let inner: Record<string, protobuf.AnyNestedObject> = nested;
  for (let i = parts.length - 1; i >= 0; i--) inner = { [parts[i]!]: { nested: inner } };
  return inner;
}

function fieldJson(type: FieldType, id: number): protobuf.IField & { rule?: string; keyType?: string } {
  switch (type.kind) {
    case 'list': {
      const element = elementName(type.element);
      const packable = type.element.kind === 'enum' || (type.element.kind === 'scalar' && type.element.scalar !== 'string' && type.element.scalar !== 'bytes');
      return { rule: 'repeated', type: element, id, ...(packable ? { options: { packed: true } } : {}) };
    }
    case 'map':
      return { keyType: type.key, type: elementName(type.value), id };
    default:
      return { type: elementName(type), id };
  }
}

function elementName(type: FieldType): string {
  switch (type.kind) {
    case 'scalar': return type.scalar;
    case 'timestamp': return '.google.protobuf.Timestamp';
    case 'message':
    case 'enum':
      return type.name;
    default:
      return bad('response', '', `nested ${type.kind} in the schema; regenerate with svc-gen`, undefined);
  }
}

export { isLongScalar };
