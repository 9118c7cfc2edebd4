import { RpcError } from './rpc-error.js';

/**
 * Every error the framework itself raises is made here, so that each has one stable code and a
 * message that says what happened and what to do. docs/errors.md lists them.
 */

export function protocolError(reason: string): RpcError {
  return new RpcError('INTERNAL', `protocol error: ${reason}`, { retryable: false });
}

export function frameTooLarge(size: number, max: number): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `message of ${size} bytes exceeds the maximum frame size of ${max} bytes; raise maxFrameSize on both sides or send less`, { retryable: false });
}

export function sendBufferFull(address: string, waiting: number, limit: number): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `the connection to ${address} has ${waiting} bytes waiting to be sent (limit ${limit}): the server reads slower than calls are made; slow down, add instances, or raise maxSendBuffer`);
}

export function noAddress(service: string): RpcError {
  return new RpcError('UNAVAILABLE', `no address is known for service '${service}'; add it to the client's registry (e.g. staticRegistry({ ${service}: ['127.0.0.1:8972'] })) or start an instance`);
}

export function noTransport(address: string, schemes: readonly string[]): RpcError {
  return new RpcError('INVALID_ARGUMENT', `no transport handles the address '${address}'; configured schemes: ${schemes.join(', ') || 'none'}. Add the transport (e.g. tcp()) to the options or fix the address`);
}

export function connectionLost(address: string, reason: string): RpcError {
  return new RpcError('UNAVAILABLE', `connection to ${address} lost (${reason}); the call may or may not have run on the server; the client reconnects by itself`);
}

export function notConnected(address: string, reason: string): RpcError {
  return new RpcError('UNAVAILABLE', `cannot reach ${address} (${reason}); the client keeps retrying in the background with backoff`);
}

export function dialTimeout(address: string, ms: number): RpcError {
  return new RpcError('UNAVAILABLE', `connecting to ${address} took longer than the dial timeout of ${ms} ms; is the server up and the address right?`);
}

export function channelClosed(address: string): RpcError {
  return new RpcError('UNAVAILABLE', `the client's channel to ${address} was closed; create a new Client to call again`, { retryable: false });
}

export function serverShuttingDown(): RpcError {
  return new RpcError('UNAVAILABLE', 'the server is shutting down and takes no new calls; retry on another instance');
}

export function drainTimedOut(ms: number): RpcError {
  return new RpcError('UNAVAILABLE', `the server shut down before this call finished (drain timeout ${ms} ms); retry on another instance`);
}

export function deadlineExceeded(timeoutMs: number | undefined): RpcError {
  const what = timeoutMs === undefined ? 'the deadline passed' : `the call did not finish within its ${timeoutMs} ms deadline`;
  return new RpcError('DEADLINE_EXCEEDED', `${what}; raise the timeout or make the handler faster`);
}

export function cancelledByCaller(reason?: unknown): RpcError {
  const why = reason instanceof Error ? `: ${reason.message}` : typeof reason === 'string' ? `: ${reason}` : '';
  return new RpcError('CANCELLED', `the call was cancelled by the caller${why}`, { cause: reason });
}

export function unknownService(service: string, known: readonly string[]): RpcError {
  return new RpcError('UNIMPLEMENTED', `this server has no service '${service}' (it serves: ${known.join(', ') || 'nothing'}); check the service name or the server it was routed to`);
}

export function unknownMethod(service: string, method: string, known: readonly string[]): RpcError {
  return new RpcError('UNIMPLEMENTED', `service '${service}' has no method '${method}' (it has: ${known.join(', ') || 'none'}); regenerate the client or deploy the newer server`);
}

export function unsupportedCodec(name: string, supported: readonly string[]): RpcError {
  return new RpcError('INVALID_ARGUMENT', `codec '${name}' is not supported here (supported: ${supported.join(', ')}); configure the same codecs on client and server`);
}

export function undecodableBody(codec: string, what: 'request' | 'response', error: unknown): RpcError {
  return new RpcError(what === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL', `the ${what} body is not valid ${codec} (${(error as Error)?.message ?? String(error)}); check that both sides use the same codec and types`, { cause: error });
}

export function unencodableValue(codec: string, what: 'request' | 'response', error: unknown): RpcError {
  const fix = what === 'request' ? 'send' : 'return';
  return new RpcError(what === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL', `the ${what} cannot be encoded as ${codec} (${(error as Error)?.message ?? String(error)}); ${fix} plain data the codec supports`, { cause: error });
}

export function corruptCompressedBody(algorithm: string, error: unknown): RpcError {
  return new RpcError('DATA_LOSS', `the body is flagged ${algorithm} but does not decompress (${(error as Error)?.message ?? String(error)})`, { cause: error });
}

export function nextCalledTwice(): RpcError {
  return new RpcError('INTERNAL', 'a filter called next() twice for one call; call it once and return or transform its result');
}

export function invalidServiceClass(what: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', `${what} is not a service: mark its class with @Service() and its methods with @Method()`);
}

export function duplicateService(name: string): RpcError {
  return new RpcError('ALREADY_EXISTS', `service '${name}' is already registered on this server; register each service once`);
}

// Publish/subscribe.

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

// Limits and hostile input: the wire, metadata and the call path (core).

// Limits and hostile input: TCP connections.

// Limits and hostile input: codecs (protobuf wire, schema JSON).
