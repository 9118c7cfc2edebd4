import { RpcError } from '../errors/rpc-error.js';

/**
 * Errors of publish/subscribe. (Kept beside events until they join errors/framework-errors.ts
 * and docs/errors.md.)
 */

export function transportCarriesNoEvents(address: string, topics: readonly string[]): RpcError {
  return new RpcError('FAILED_PRECONDITION', `the transport for ${address} does not carry events, so this server receives none of ${topics.join(', ')} through it; listen on a transport that does (inproc, nats) as well`);
}

export function channelCarriesNoEvents(address: string): RpcError {
  return new RpcError('FAILED_PRECONDITION', `the transport for ${address} does not carry events; publish through one that does (inproc, nats): set ClientOptions.eventAddress or pass { address }`);
}

export function unencodableEvent(topic: string, error: unknown): RpcError {
  return new RpcError('INVALID_ARGUMENT', `the payload of event '${topic}' cannot be encoded as JSON (${(error as Error)?.message ?? String(error)}); publish plain data`, { cause: error });
}

export function noEventAddress(topic: string): RpcError {
  return new RpcError('FAILED_PRECONDITION', `no address to publish event '${topic}' to; set ClientOptions.eventAddress (e.g. 'nats://127.0.0.1:4222') or pass { address }`, { retryable: false });
}
