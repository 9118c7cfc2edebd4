import protobuf from 'protobufjs';
import type { MethodSerializers } from './codec.js';
import type { EventCodec, EventSerializers } from '../events/event-codec.js';
import { duplicateSchema, schemaVersionUnsupported, undecodableProtobuf, valueTooDeep } from '../errors/framework-errors.js';
import { RpcError } from '../errors/rpc-error.js';
import { withPaths, type Side, type Subject } from './protobuf-paths.js';
import { WireSchema } from './protobuf-wire.js';
import { SCHEMA_VERSION, type ServiceSchema } from './protobuf-schema.js';

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
export function protobufCodec(options: ProtobufCodecOptions | readonly ServiceSchema[]): EventCodec {
  const schemas = Array.isArray(options) ? (options as readonly ServiceSchema[]) : (options as ProtobufCodecOptions).schemas;
  const byService = checkedSchemas('protobufCodec', schemas);
  // A topic's payload message: svc-gen checks that every subscriber of a topic has the same one.
  const byTopic = new Map<string, ServiceSchema>();
  for (const schema of schemas) for (const e of schema.events ?? []) if (!byTopic.has(e.topic)) byTopic.set(e.topic, schema);
  const services = new Map<string, CompiledService>();
  const compiledFor = (schema: ServiceSchema): CompiledService => {
    let compiled = services.get(schema.service);
    if (!compiled) {
      compiled = new CompiledService(schema);
      services.set(schema.service, compiled);
    }
    return compiled;
  };
  return {
    name: 'protobuf',
    forMethod(service: string, method: string): MethodSerializers | undefined {
      const schema = byService.get(service);
      return schema && compiledFor(schema).serializers(method);
    },
    forEvent(topic: string): EventSerializers | undefined {
      const schema = byTopic.get(topic);
      return schema && compiledFor(schema).event(topic);
    },
  };
}

/** The schemas by service; refuses a format version this @svc/core does not read, and a service given twice. */
export function checkedSchemas(codec: string, schemas: readonly ServiceSchema[]): Map<string, ServiceSchema> {
  const byService = new Map<string, ServiceSchema>();
  for (const schema of schemas) {
    if (schema.schemaVersion !== SCHEMA_VERSION) throw schemaVersionUnsupported(codec, schema.service, schema.schemaVersion, SCHEMA_VERSION);
    if (byService.has(schema.service)) throw duplicateSchema(codec, schema.service);
    byService.set(schema.service, schema);
  }
  return byService;
}

/** One service's schema compiled to the wire format (see protobuf-wire.ts). */
class CompiledService {
  private readonly wire: WireSchema;
  private readonly methods = new Map<string, MethodSerializers>();
  private readonly events = new Map<string, EventSerializers>();

  constructor(private readonly schema: ServiceSchema) {
    this.wire = new WireSchema(schema);
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

  /** A topic's payload: encoded and checked like a request (a bad one never leaves the publisher). */
  event(topic: string): EventSerializers | undefined {
    const cached = this.events.get(topic);
    if (cached) return cached;
    const e = this.schema.events?.find((x) => x.topic === topic);
    if (!e) return undefined;
    // Checked like a request, and said of the payload: `event 'orders.created': payload.qty …`.
    const side = this.side(e.message, e.wrapped === true, 'request', `event '${topic}'`, 'payload');
    const serializers: EventSerializers = { encode: side.encode, decode: side.decode };
    this.events.set(topic, serializers);
    return serializers;
  }

  private side(name: string | null, wrapped: boolean, side: Side, label: string, noun: string = side): { encode(v: unknown): Uint8Array; decode(b: Uint8Array): unknown } {
    if (name === null) {
      return {
        encode: () => EMPTY,
        decode: () => undefined,
      };
    }
    const message = this.wire.message(name);
    const events = noun === 'payload';
    const about: Subject = { label, noun, wrapped, wrappedField: events };
    return {
      encode(value: unknown): Uint8Array {
        const input = wrapped ? { value } : value;
        try {
          return withPaths((path) => {
            const w = protobuf.Writer.create();
            message.encode(w, input, path, side);
            return finished(w);
          }, about);
        } catch (error) {
          if (error instanceof RangeError) throw valueTooDeep(label, side, noun, error);
          throw error;
        }
      },
      decode(bytes: Uint8Array): unknown {
        let value: Record<string, unknown>;
        try {
          value = withPaths((path) => message.decode(protobuf.Reader.create(bytes), bytes.length, path, side), about);
        } catch (error) {
          if (RpcError.is(error)) throw error;
          throw undecodableProtobuf(label, side, noun, name, error);
        }
        return wrapped ? value.value : value;
      },
    };
  }
}

/**
 * The writer's bytes. protobufjs 8 writes into one growing buffer and `finish()` copies the bytes
 * out of it, which for a 64 KiB stream message was a second allocation and copy of the whole body.
 * The writer here is one encode's alone and dropped after it, so a view of its buffer is safe;
 * it is taken when the bytes fill at least half of the buffer (a big field sizes the buffer to
 * fit), else they are copied, so a body never keeps more than twice its size alive.
 */
function finished(w: protobuf.Writer): Uint8Array {
  return w.pos * 2 >= w.buf.length ? w.finish(true) : w.finish();
}
