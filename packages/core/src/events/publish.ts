import { jsonCodec } from '../codec/json-codec.js';
import type { Metadata } from '../metadata.js';
import type { Channel } from '../transport/transport.js';
import { channelCarriesNoEvents, unencodableEvent } from '../errors/framework-errors.js';
import { publishesEvents } from './event-transport.js';

export interface PublishOptions {
  /** Event metadata, seen by handlers as `ctx.metadata`. */
  metadata?: Metadata;
  /** Where to publish, overriding ClientOptions.eventAddress. */
  address?: string;
}

const JSON_SERIALIZERS = jsonCodec().forMethod('', '')!;

/** Encodes an event and hands it to a channel that carries events. */
export async function publishOn(channel: Channel, topic: string, payload: unknown, options: PublishOptions): Promise<void> {
  if (!publishesEvents(channel)) throw channelCarriesNoEvents(channel.address);
  let body: Uint8Array;
  try {
    body = JSON_SERIALIZERS.encodeRequest(payload);
  } catch (error) {
    throw unencodableEvent(topic, error);
  }
  const metadata = options.metadata === undefined || Object.keys(options.metadata).length === 0 ? undefined : { ...options.metadata };
  await channel.publishEvent({ topic, codec: 'json', metadata, body });
}
