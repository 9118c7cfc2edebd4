import type { Codec } from '../codec/codec.js';
import { jsonCodec } from '../codec/json-codec.js';

/** Turns one topic's payloads into event bodies and back, checking them where a schema says how. */
export interface EventSerializers {
  encode(payload: unknown): Uint8Array;
  /** Throws an RpcError (INVALID_ARGUMENT, `payload.qty …`) for a body that does not fit. */
  decode(bytes: Uint8Array): unknown;
}

/**
 * The seam between codecs and events: a Codec that can also carry event payloads. Schema-driven
 * codecs (`protobufCodec`, `schemaJsonCodec`) implement it for the topics of their schemas;
 * `Codec` itself is unchanged, so a codec that knows nothing of events still works for calls.
 */
export interface EventCodec extends Codec {
  /** The serializers of one topic (a literal topic, as published), or undefined when this codec cannot carry it. */
  forEvent(topic: string): EventSerializers | undefined;
}

export function carriesEventPayloads(codec: Codec): codec is EventCodec {
  return typeof (codec as Partial<EventCodec>).forEvent === 'function';
}

const JSON_METHOD = jsonCodec().forMethod('', '')!;

/** Untyped JSON: what events of topics without a schema travel as. */
export const JSON_EVENT: EventSerializers = {
  encode: (payload) => JSON_METHOD.encodeRequest(payload),
  decode: (bytes) => JSON_METHOD.decodeRequest(bytes),
};

export interface ResolvedEventCodec {
  readonly codec: string;
  readonly serializers: EventSerializers;
}

/**
 * The publisher's choice for a topic: the first codec (in the client's order of preference) that
 * carries it, else plain JSON. Cached per topic.
 */
export class EventCodecs {
  private readonly cache = new Map<string, ResolvedEventCodec>();

  constructor(private readonly codecs: readonly Codec[]) {}

  resolve(topic: string): ResolvedEventCodec {
    let resolved = this.cache.get(topic);
    if (resolved) return resolved;
    resolved = { codec: 'json', serializers: JSON_EVENT };
    for (const codec of this.codecs) {
      const serializers = carriesEventPayloads(codec) ? codec.forEvent(topic) : undefined;
      if (serializers) {
        resolved = { codec: codec.name, serializers };
        break;
      }
    }
    this.cache.set(topic, resolved);
    return resolved;
  }
}
