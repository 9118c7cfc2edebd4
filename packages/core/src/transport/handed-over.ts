import { checkMetadata, copyMetadata, type MetadataLimits } from '../metadata.js';
import { RpcError } from '../errors/rpc-error.js';
import type { RequestMessage, ResponseMessage, StreamEnd } from './transport.js';

/**
 * What the receiving side gets: the message with its own copy of the metadata, or, when the
 * metadata breaks the rules or the caps, none of it and the reason as `violation` (as the frame
 * decoder does for the network transports).
 */
export function handedOver<M extends RequestMessage | ResponseMessage | StreamEnd>(message: M, what: 'request' | 'response', limits: MetadataLimits): M {
  const metadata = message.metadata;
  if (metadata === undefined) return message;
  try {
    checkMetadata(metadata, what, limits);
    return { ...message, metadata: copyMetadata(metadata) };
  } catch (error) {
    return { ...message, metadata: undefined, violation: RpcError.from(error) };
  }
}
