import { RpcError, type Progress } from './rpc-error.js';

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
  return new RpcError('RESOURCE_EXHAUSTED', `the connection to ${address} has ${waiting} bytes waiting to be sent (limit ${limit}): the server reads slower than calls are made; slow down, add instances, or raise maxSendBuffer`, { progress: 'not_sent' });
}

export function noAddress(service: string): RpcError {
  return new RpcError('UNAVAILABLE', `no address is known for service '${service}'; add it to the client's registry (e.g. staticRegistry({ ${service}: ['127.0.0.1:8972'] })) or start an instance`, { progress: 'not_sent' });
}

export function noTransport(address: string, schemes: readonly string[]): RpcError {
  return new RpcError('INVALID_ARGUMENT', `no transport handles the address '${address}'; configured schemes: ${schemes.join(', ') || 'none'}. Add the transport (e.g. tcp()) to the options or fix the address`, { progress: 'not_sent' });
}

export function connectionLost(address: string, reason: string): RpcError {
  return new RpcError('UNAVAILABLE', `connection to ${address} lost (${reason}); the call may or may not have run on the server; the client reconnects by itself`);
}

export function notConnected(address: string, reason: string): RpcError {
  return new RpcError('UNAVAILABLE', `cannot reach ${address} (${reason}); the client keeps retrying in the background with backoff`, { progress: 'not_sent' });
}

export function dialTimeout(address: string, ms: number): RpcError {
  return new RpcError('UNAVAILABLE', `connecting to ${address} took longer than the dial timeout of ${ms} ms; is the server up and the address right?`, { progress: 'not_sent' });
}

export function channelClosed(address: string): RpcError {
  return new RpcError('UNAVAILABLE', `the client's channel to ${address} was closed; create a new Client to call again`, { retryable: false, progress: 'not_sent' });
}

export function serverShuttingDown(): RpcError {
  return new RpcError('UNAVAILABLE', 'the server is shutting down and takes no new calls; retry on another instance', { progress: 'refused' });
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
  return new RpcError('UNIMPLEMENTED', `this server has no service '${service}' (it serves: ${known.join(', ') || 'nothing'}); check the service name or the server it was routed to`, { progress: 'refused' });
}

export function unknownMethod(service: string, method: string, known: readonly string[]): RpcError {
  return new RpcError('UNIMPLEMENTED', `service '${service}' has no method '${method}' (it has: ${known.join(', ') || 'none'}); regenerate the client or deploy the newer server`, { progress: 'refused' });
}

export function unsupportedCodec(name: string, supported: readonly string[]): RpcError {
  return new RpcError('INVALID_ARGUMENT', `codec '${name}' is not supported here (supported: ${supported.join(', ')}); configure the same codecs on client and server`, { progress: 'refused' });
}

export function undecodableBody(codec: string, what: 'request' | 'response', error: unknown): RpcError {
  return new RpcError(what === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL', `the ${what} body is not valid ${codec} (${(error as Error)?.message ?? String(error)}); check that both sides use the same codec and types`, { cause: error });
}

export function unencodableValue(codec: string, what: 'request' | 'response', error: unknown): RpcError {
  const fix = what === 'request' ? 'send' : 'return';
  return new RpcError(what === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL', `the ${what} cannot be encoded as ${codec} (${(error as Error)?.message ?? String(error)}); ${fix} plain data the codec supports`, { cause: error, progress: what === 'request' ? 'not_sent' : 'processed' });
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

/** What the sender's own metadata breaks never left it; what arrives was sent. */
function unsent(what: 'request' | 'response' | 'event' | 'frame'): Progress {
  return what === 'request' || what === 'event' ? 'not_sent' : 'processed';
}

/** Metadata that is not string keys to well-formed string values; `key` undefined: not an object at all. */
export function invalidMetadata(what: 'request' | 'response' | 'event' | 'frame', key: string | undefined, value: unknown): RpcError {
  // The sender's own values (a call's or an event's) are its mistake; a response's are the server's bug.
  const code = what === 'request' || what === 'event' ? 'INVALID_ARGUMENT' : 'INTERNAL';
  const rule = 'metadata maps string keys to string values';
  if (key === undefined) {
    return new RpcError(code, `${what} metadata must be an object, not ${Array.isArray(value) ? 'an array' : describeValue(value)}; ${rule} (e.g. { tenant: 'acme' })`, { retryable: false, progress: unsent(what) });
  }
  if (typeof value !== 'string') {
    return new RpcError(code, `${what} metadata key '${key}' has ${describeValue(value)}; ${rule}: convert the value (String(value), JSON.stringify(value)) or leave the key out`, { retryable: false, progress: unsent(what) });
  }
  const where = LONE_SURROGATE.test(key) ? 'key' : 'value';
  return new RpcError(code, `${what} metadata key '${key}' has a lone surrogate in its ${where}, which UTF-8 cannot carry (it would arrive as U+FFFD); send well-formed Unicode`, { retryable: false, progress: unsent(what) });
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function describeValue(value: unknown): string {
  if (value === null) return 'a null value';
  if (value === undefined) return 'an undefined value';
  const type = typeof value;
  const shown = type === 'number' || type === 'boolean' || type === 'bigint' ? ` (${String(value)})` : '';
  return `${type === 'object' ? 'an' : 'a'} ${type} value${shown}`;
}

export function metadataTooLarge(what: 'request' | 'response' | 'event' | 'frame', measure: 'entries' | 'bytes', size: number, limit: number): RpcError {
  const option = measure === 'entries' ? 'maxMetadataEntries' : 'maxMetadataBytes';
  return new RpcError(
    'RESOURCE_EXHAUSTED',
    `the ${what} metadata has ${size} ${measure === 'entries' ? 'entries' : 'bytes of keys and values'}, more than ${option} (${limit}); send less metadata (large data belongs in the body), or raise ${option} on both sides`,
    { retryable: false, progress: unsent(what) },
  );
}

export function decompressedTooLarge(algorithm: string, limit: number): RpcError {
  return new RpcError(
    'RESOURCE_EXHAUSTED',
    `the ${algorithm} body inflates to more than ${limit} bytes, the receiver's maxDecompressedSize (${limit}), so it was refused before it was decoded; send less, or raise maxDecompressedSize where it is received (ServerOptions for requests, ClientOptions for responses)`,
    { retryable: false },
  );
}

export function unencodableId(id: number): RpcError {
  return new RpcError('INTERNAL', `frame id ${id} is not an integer from 0 to 4294967295, so it cannot be written (truncated, it would name another call); a transport must keep its ids in that range`, { retryable: false });
}

export function unencodableErrorDetails(code: string, error: unknown): RpcError {
  return new RpcError('INTERNAL', `the handler failed with ${code}, but the error's details cannot be encoded as JSON (${(error as Error)?.message ?? String(error)}); give RpcError plain JSON data as details`, { cause: error });
}

export function addressInUse(address: string): RpcError {
  return new RpcError('ALREADY_EXISTS', `the address ${address} is already in use by another listener; close that server first, or listen on another address`, { retryable: false });
}

// Limits and hostile input: TCP connections.

export function tooManyConnections(limit: number): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `the server already has ${limit} connections (maxConnections), so it refused this one before any call on it ran; retry later or on another instance, or raise maxConnections`, { progress: 'refused' });
}

export function tooManyConcurrentCalls(limit: number): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `this connection already has ${limit} calls in flight (maxConcurrentCalls), so the server refused this call and did not run it; wait for answers before sending more, or raise maxConcurrentCalls on the server`, { progress: 'refused' });
}

export function tooManyConcurrentStreams(limit: number): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `this connection already has ${limit} streams open (maxConcurrentStreams), so the server refused this one and did not run it; end streams before opening more, spread them over connections, or raise maxConcurrentStreams on the server`, { progress: 'refused' });
}

export function frameTimedOut(ms: number, received: number): RpcError {
  return new RpcError('DEADLINE_EXCEEDED', `a frame was started but not completed within ${ms} ms (${received} bytes of it arrived), so the connection is closed; send whole frames promptly, or raise frameTimeout for large frames on slow links`);
}

export function bufferedBytesExceeded(limit: number): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `the server holds more than ${limit} bytes of incomplete frames across its connections (maxBufferedBytes) and this connection's frame went over, so it is closed; retry later, or raise maxBufferedBytes`);
}

export function connectionStalled(address: string, ms: number, waiting: number): RpcError {
  return new RpcError('UNAVAILABLE', `the peer at ${address} took none of the ${waiting} bytes waiting for it for ${ms} ms (stallTimeout), so the connection is closed; calls on it may or may not have run; a peer must read what it is sent`);
}

export function closedForShutdown(): RpcError {
  return new RpcError('UNAVAILABLE', 'the server is shutting down and closed this connection before the call reached it, so the call did not run; retry it, on another instance if there is one', { progress: 'refused' });
}

export function invalidAddress(address: string, problem: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', `the address '${address}' ${problem}`, { retryable: false, progress: 'not_sent' });
}

export function invalidTransportOption(problem: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', `tcp(): ${problem}`, { retryable: false });
}

export function unsendableMessage(what: 'request' | 'response', error: unknown): RpcError {
  if (error instanceof RpcError) return new RpcError(error.code, `the ${what} could not be sent: ${error.message}`, { cause: error, retryable: error.retryable, progress: what === 'request' ? 'not_sent' : 'processed' });
  const fix = what === 'request' ? 'pass metadata and fields the wire can carry' : 'this is a bug in the server or a filter; return values and metadata the wire can carry';
  return new RpcError(what === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL', `the ${what} could not be written to the wire (${(error as Error)?.message ?? String(error)}); ${fix}`, { cause: error, progress: what === 'request' ? 'not_sent' : 'processed' });
}

// Limits and hostile input: codecs (protobuf wire, schema JSON).

/**
 * A value that does not fit its schema (`Catalog.echo: request.points[0].y expected a number
 * (double), got "two"`): INVALID_ARGUMENT in a request or an event payload, INTERNAL in a response
 * (the server's fault). `details.field` is the path; `shown` is the path as the message says it.
 */
export function schemaViolation(side: 'request' | 'response', field: string, problem: string, label?: string, shown: string = field): RpcError {
  return new RpcError(side === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL', `${label === undefined ? '' : `${label}: `}${shown} ${problem}`, { details: { field } });
}

/** A value to encode nests deeper than the stack, or refers to itself. */
export function valueTooDeep(label: string, side: 'request' | 'response', noun: string, error: unknown): RpcError {
  return new RpcError(side === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL', `${label}: the ${noun} is nested too deeply or refers to itself (a cycle): ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** A protobuf body that does not parse as its message (truncated, bad wire types or lengths, nested deeper than the stack). */
export function undecodableProtobuf(label: string, side: 'request' | 'response', noun: string, message: string, error: unknown): RpcError {
  return new RpcError(side === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL', `${label}: the ${noun} body is not a valid protobuf ${message} (${(error as Error)?.message ?? String(error)}); do both sides use the same generated schema?`, { cause: error });
}

/** A schema JSON body that is not JSON, or nests deeper than the stack. */
export function undecodableJson(label: string, side: 'request' | 'response', noun: string, error: unknown): RpcError {
  return new RpcError(side === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL', `${label}: the ${noun} body is not valid JSON (${(error as Error)?.message ?? String(error)})`, { cause: error });
}

/** A schema names a message or enum it does not hold (hand-edited or mixed up descriptors). */
export function schemaTypeMissing(service: string, kind: 'message' | 'enum', name: string): RpcError {
  return new RpcError('INTERNAL', `the schema of ${service} has no ${kind} ${name}; regenerate it with svc-gen`, { retryable: false });
}

/** A schema with a list or map directly inside a list or map, which protobuf cannot carry (svc-gen never writes one). */
export function schemaCollectionNested(service: string, kind: 'list' | 'map'): RpcError {
  return new RpcError('INTERNAL', `nested ${kind} in the schema of ${service}; regenerate it with svc-gen`, { retryable: false });
}

/** A codec was given a schema of a format version this @svc/core does not read. */
export function schemaVersionUnsupported(codec: string, service: string, version: unknown, supported: number): RpcError {
  return new RpcError('INVALID_ARGUMENT', `${codec}: the schema of ${service} has format version ${String(version)}, this @svc/core reads ${supported}; regenerate it with the svc-gen of this version`);
}

/** A codec was given two schemas of one service. */
export function duplicateSchema(codec: string, service: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', `${codec}: two schemas for the service ${service}; pass each once`);
}

// The call pipeline: attempts and fail modes (client).

export function hedgeLost(): RpcError {
  return new RpcError('CANCELLED', 'another attempt of this call answered first (failbackup hedging), so this one was cancelled', { retryable: false });
}

export function noNodeLeft(service: string, tried: readonly string[]): RpcError {
  return new RpcError('UNAVAILABLE', `no node of service '${service}' is left to try (tried: ${tried.join(', ') || 'none'}); start more instances, or check the registry`, { progress: 'not_sent' });
}

export function failsafeWithoutFallback(service: string, method: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', `${service}.${method} is called with the failsafe fail mode but no fallback; give one (CallOptions.fallback, or fallback in ClientOptions.services) or use another mode`, { retryable: false, progress: 'not_sent' });
}

export function attemptTimedOut(ms: number): RpcError {
  return new RpcError('DEADLINE_EXCEEDED', `this attempt took longer than its attemptTimeout of ${ms} ms and was cancelled; the fail mode may try another node`, { retryable: true });
}

// Discovery: registries, registrars, routing (docs/discovery.md).

/** The client's first lookup of a service found nothing cached and the registry did not answer. */
export function noInstanceKnown(service: string, reason: string, cause?: unknown): RpcError {
  return new RpcError('UNAVAILABLE', `no instance of service '${service}' is known yet and the registry did not answer (${reason}); check that the registry is up and that the client's registry options (address, credentials, prefix or bucket) point at it`, { cause, progress: 'not_sent' });
}

/** A registry backend could not be read (a lookup, a resync). */
export function registryUnreachable(registry: string, reason: string): RpcError {
  return new RpcError('UNAVAILABLE', `the registry ${registry} cannot be read (${reason}); is it up and reachable from here? Clients keep calling the instances they last knew`, { progress: 'not_sent' });
}

/** The server listened but its registrar refused or failed: it does not serve unannounced. */
export function registrationFailed(address: string, reason: string, cause?: unknown): RpcError {
  return new RpcError('UNAVAILABLE', `the server listened on ${address} but could not register it (${reason}), so it closed that listener again rather than serve unannounced; check that the registry is up and reachable, or leave out ServerOptions.registrar (or listen with { register: false })`, { cause, retryable: true });
}

/** Deregistering at shutdown failed or took too long: the instances stay listed until their lease or ttl runs out. */
export function deregistrationFailed(address: string, reason: string, cause?: unknown): RpcError {
  return new RpcError('UNAVAILABLE', `could not deregister ${address} (${reason}); clients may pick it until its lease or ttl runs out, and fail over from it meanwhile`, { cause });
}

/** A registrar was given an instance it cannot store (a name its keys cannot hold). */
export function invalidRegistration(problem: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', `cannot register: ${problem}`, { retryable: false });
}

/** Tag or version routing left no node and the route does not fall back to any. */
export function noMatchingNode(service: string, wanted: string, available: string): RpcError {
  return new RpcError('UNAVAILABLE', `no node of service '${service}' matches ${wanted} (it has ${available}); deploy a matching instance, change the route (ClientOptions.route, services[...].route, CallOptions.route), or set route.onNoMatch: 'any' to use any node then`, { progress: 'not_sent' });
}

/** A route that cannot be used: a version range semver does not read, a tag value that is not a string. */
export function invalidRoute(problem: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', `route: ${problem}`, { retryable: false, progress: 'not_sent' });
}

/** A health check or watch (SvcHealth) whose request is not what it takes. */
export function invalidHealthRequest(problem: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', `bad health request: ${problem}; send { service?: string } to check, and { service?, last?, waitMs? } to watch`, { retryable: false });
}

// Streams (docs/streams.md)

export function streamsNotSupported(address: string): RpcError {
  return new RpcError('UNIMPLEMENTED', `${address} does not serve streams (its transport, or the server's dispatcher, carries only unary calls); call this method over a transport with streams (tcp, nats, inproc) or as a unary method`, { progress: 'not_sent', retryable: false });
}

export function streamCreditExceeded(bytes: number, window: number): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `the peer sent ${bytes} bytes of stream messages beyond the ${window}-byte window granted to it; the stream is ended rather than buffered (a peer that ignores WINDOW credit is broken)`, { retryable: false });
}

export function notAStreamHandler(service: string, method: string, expected: string, got: string): RpcError {
  return new RpcError('UNIMPLEMENTED', `${service}.${method} was called as a ${expected}, but its handler ${got}; call it the way it is declared (invoke, serverStream, clientStream or bidiStream)`, { retryable: false });
}

const CALLED_WITH = { unary: 'invoke()', server: 'serverStream()', client: 'clientStream()', bidi: 'bidiStream()' } as const;
const SHAPE_NAMES = { server: 'a server stream', client: 'a client stream', bidi: 'a bidirectional stream' } as const;

export function calledAsOtherShape(service: string, method: string, declared: keyof typeof SHAPE_NAMES, calledAs: keyof typeof CALLED_WITH): RpcError {
  return new RpcError(
    'UNIMPLEMENTED',
    `${service}.${method} is ${SHAPE_NAMES[declared]} (its schema from svc-gen says so), but was called with ${CALLED_WITH[calledAs]}; call it with ${CALLED_WITH[declared]}, or the generated client's ${method}()`,
    { progress: 'not_sent', retryable: false },
  );
}

export function streamMethodCalledUnary(service: string, method: string): RpcError {
  return new RpcError('UNIMPLEMENTED', `${service}.${method} is a stream (an async generator); call it with client.serverStream or client.bidiStream, not invoke`, { retryable: false });
}

export function unknownFrameKind(kind: number): RpcError {
  return new RpcError('UNIMPLEMENTED', `frame kind ${kind} is not known to this peer; upgrade it to use what the other side sent`, { retryable: false });
}

export function streamWithoutResult(service: string, method: string): RpcError {
  return new RpcError('INTERNAL', `the client stream ${service}.${method} ended without its result message`, { retryable: false });
}

/** A window option out of range: `streamWindow` and `maxStreamWindow` start at the protocol's initial window, `streamWindowBudget` at 0. */
export function invalidStreamWindow(option: 'streamWindow' | 'maxStreamWindow' | 'streamWindowBudget', value: unknown, least: number): RpcError {
  const range = option === 'streamWindowBudget' ? `a whole number of bytes, 0 or more` : `an integer of at least ${least} bytes (the protocol's initial window) and below 2^31`;
  return new RpcError('INVALID_ARGUMENT', `${option} must be ${range}, got ${String(value)}`, { progress: 'not_sent', retryable: false });
}

export function streamIteratedTwice(service: string, method: string): RpcError {
  return new RpcError('FAILED_PRECONDITION', `the stream of ${service}.${method} was iterated a second time; each call's stream can be read once (call again for a new stream)`, { progress: 'not_sent', retryable: false });
}

export function streamSourceFailed(error: unknown): RpcError {
  const why = error instanceof Error ? error.message : String(error);
  return new RpcError('CANCELLED', `the messages given to the stream threw (${why}); the stream was cancelled`, { cause: error });
}
