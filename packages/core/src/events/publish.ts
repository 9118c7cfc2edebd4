import type { Codec } from '../codec/codec.js';
import { checkMetadata, copyMetadata, DEFAULT_METADATA_LIMITS, type Metadata, type MetadataLimits } from '../metadata.js';
import type { Channel } from '../transport/transport.js';
import { RpcError } from '../errors/rpc-error.js';
import { channelCarriesNoEvents, unencodableEvent } from '../errors/framework-errors.js';
import { publishesEvents } from './event-transport.js';
import { EventCodecs, JSON_EVENT, type ResolvedEventCodec } from './event-codec.js';

export interface PublishOptions {
  /** Event metadata, seen by handlers as `ctx.metadata`. */
  metadata?: Metadata;
  /** Where to publish, overriding ClientOptions.eventAddress. */
  address?: string;
}

const PLAIN_JSON: ResolvedEventCodec = { codec: 'json', serializers: JSON_EVENT };

/** Each client's codec list gets one per-topic cache (the list is fixed when the client is made). */
const byCodecList = new WeakMap<readonly Codec[], EventCodecs>();

function eventCodecs(codecs: readonly Codec[]): EventCodecs {
  let found = byCodecList.get(codecs);
  if (!found) byCodecList.set(codecs, (found = new EventCodecs(codecs)));
  return found;
}

/**
 * Encodes an event and hands it to a channel that carries events. With `codecs` (the client's
 * EventCodecs), a topic that a generated schema knows goes in the first codec that carries it
 * (protobuf, else schema-checked JSON) and is checked before it leaves: a bad payload is
 * INVALID_ARGUMENT naming the field. Other topics go as plain JSON.
 */
export async function publishOn(channel: Channel, topic: string, payload: unknown, options: PublishOptions, codecs?: readonly Codec[], limits: MetadataLimits = DEFAULT_METADATA_LIMITS): Promise<void> {
  if (!publishesEvents(channel)) throw channelCarriesNoEvents(channel.address);
  const { codec, serializers } = codecs ? eventCodecs(codecs).resolve(topic) : PLAIN_JSON;
  let body: Uint8Array;
  try {
    body = serializers.encode(payload);
  } catch (error) {
    if (RpcError.is(error)) throw error;
    throw unencodableEvent(topic, error);
  }
  // The same rules as a call's metadata, on every transport: string values, own keys, the caps.
  const given = options.metadata;
  const metadata = given === undefined || checkMetadata(given, 'event', limits) === 0 ? undefined : copyMetadata(given);
  await channel.publishEvent({ topic, codec, metadata, body });
}
