import { RpcError, type Progress } from '@svc/core';

/**
 * Errors only the NATS transport raises; the shared ones come from `errors` in @svc/core/transport.
 * Each says how far the call got (RpcError.progress), as docs/transport-nats.md lists.
 */

/** The NATS server's 503: no subscriber had the subject, so nobody received the call (not_sent). */
export function noResponders(service: string, instance: string | undefined): RpcError {
  const who = instance === undefined ? `no instance of service '${service}'` : `instance '${instance}' of service '${service}'`;
  return new RpcError('UNAVAILABLE', `${who} is listening on NATS (no responders); start one, or check the service name and the subject prefix`, { progress: 'not_sent' });
}

/** A request (not_sent: refused before publishing) or an answer (as far as the call got) too large for a message. */
export function payloadTooLarge(size: number, max: number, progress: Progress = 'processed'): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `message of ${size} bytes exceeds the NATS server's max_payload of ${max} bytes; raise max_payload on the server or send less`, { retryable: false, progress });
}

export function cannotListen(address: string, cause: unknown): RpcError {
  return new RpcError('UNAVAILABLE', `cannot listen at ${address}: connecting to NATS failed (${(cause as Error)?.message ?? String(cause)}); is nats-server running there?`, { cause });
}

export function registryUnavailable(reason: string): RpcError {
  return new RpcError('UNAVAILABLE', `the NATS KV registry cannot be read (${reason}); is NATS up, with JetStream enabled?`);
}

export function answersTooLarge(size: number, max: number): RpcError {
  return new RpcError(
    'RESOURCE_EXHAUSTED',
    `the answers to the calls of one message come to ${size} bytes, more than the NATS server's max_payload of ${max} bytes, and this service may send only one reply per message (allow_responses); raise max_payload, send less, or allow the service's NATS user to publish to _INBOX.>`,
    { retryable: false },
  );
}

// Hostile or broken peers, and the listener's limits.

export function undecodableFrames(reason: string): RpcError {
  return new RpcError(
    'INVALID_ARGUMENT',
    `the message of framed calls does not parse (${reason}), so none of its calls was run; @svc clients send well-formed frames: check what else publishes on this service's subjects`,
    { retryable: false, progress: 'refused' },
  );
}

export function tooManyCallsInMessage(limit: number): RpcError {
  return new RpcError(
    'RESOURCE_EXHAUSTED',
    `the message carries more than ${limit} framed calls, this service's maxCallsPerMessage, so none of them was run; send fewer calls to a message (the client's callsPerMessage) or raise maxCallsPerMessage on the service`,
    { retryable: false, progress: 'refused' },
  );
}

export function tooManyCallsInFlight(limit: number): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `this instance already has ${limit} calls in flight (maxConcurrentCalls of its NATS listener, all callers together), so it did not run this one; retry later or on another instance, add instances, or raise maxConcurrentCalls`, { progress: 'refused' });
}

export function undecodableCallHeaders(reason: string): RpcError {
  return new RpcError(
    'INVALID_ARGUMENT',
    `the call headers do not parse (${reason}); send Svc-Timeout as milliseconds, Svc-Compression as 0, 1 or 2, and Svc-Metadata as a one-line JSON object of string values`,
    { retryable: false },
  );
}

export function metadataHeaderTooLong(length: number, maxBytes: number): RpcError {
  return new RpcError(
    'RESOURCE_EXHAUSTED',
    `the Svc-Metadata header is ${length} characters long, more than metadata of maxMetadataBytes (${maxBytes}) can take, so it was not read; send less metadata (large data belongs in the body), or raise maxMetadataBytes on both sides`,
    { retryable: false },
  );
}

// Configuration and names.

export function invalidOption(problem: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', `nats(): ${problem}`, { retryable: false });
}

export function invalidSubjectName(what: string, name: string, topic: boolean): RpcError {
  const rule = topic ? "use tokens of letters, digits, '-' and '_' joined by '.'" : "use letters, digits, '-' and '_' only (it becomes a subject token)";
  return new RpcError('INVALID_ARGUMENT', `${what} '${name}' cannot travel over NATS: ${rule}`, { retryable: false });
}

export function servicesUnknown(): RpcError {
  return new RpcError('INVALID_ARGUMENT', 'the NATS transport subscribes by service name: listen through an @svc Server (its dispatcher lists the services it serves)', { retryable: false });
}

// Streams (docs/transport-nats.md, "Streams").

/** A stream message that never arrived: NATS core delivers at most once. */
export function streamMessagesLost(from: string, expected: number, got: number): RpcError {
  return new RpcError(
    'UNAVAILABLE',
    `message ${expected} of the stream from ${from} never arrived (message ${got} did): NATS core delivers at most once and dropped it (a slow consumer, a reconnect), so the stream is ended rather than delivered with a hole; open it again`,
  );
}

/** Nothing arrived on a stream for `ms` (its heartbeat timeout): the peer's process or its link to NATS is gone. */
export function streamPeerSilent(peer: string, ms: number): RpcError {
  return new RpcError('UNAVAILABLE', `nothing arrived from ${peer} on this stream for ${ms} ms (streamHeartbeat.timeout): its process or its link to NATS is gone; open the stream again`);
}

/** The NATS server answered a stream message with no responders: the peer's side of the stream is not subscribed any more. */
export function streamPeerGone(peer: string): RpcError {
  return new RpcError('UNAVAILABLE', `${peer} no longer listens on this stream's subject (NATS answered no responders): its process stopped or it closed its NATS connection; open the stream again`);
}

/** A stream message, or its frames joined, ended the stream because it broke the wire format. */
export function undecodableStream(from: string, reason: string): RpcError {
  return new RpcError('INTERNAL', `a message of the stream from ${from} does not parse (${reason}); @svc peers send well-formed frames: check what else publishes on this stream's subject`, { retryable: false });
}

/** The first message of a stream is not a stream's REQUEST: nothing was run. */
export function undecodableStreamOpen(reason: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', `the message that opens a stream does not parse (${reason}), so no stream was opened; @svc clients send a REQUEST frame with its stream kind first`, { retryable: false, progress: 'refused' });
}

/** Pieces of one stream frame came to more than maxFrameSize: the stream ends before more of it is held. */
export function streamFrameTooLarge(from: string, bytes: number, max: number): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `${from} sent a stream frame of more than ${max} bytes (${bytes} so far, maxFrameSize), joined from NATS messages; the stream is ended rather than the frame held; send smaller messages, or raise maxFrameSize on both sides`, { retryable: false });
}

/** The incomplete stream frames of one listener came to more than its maxBufferedBytes. */
export function streamBuffersFull(limit: number): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `the streams of this NATS listener hold more than ${limit} bytes of incomplete frames together (maxBufferedBytes) and this stream's frame went over, so it is ended; retry later, or raise maxBufferedBytes`);
}

/** One caller (a client channel's inbox) opened more streams than the listener takes from one caller. */
export function tooManyStreamsFromCaller(limit: number): RpcError {
  return new RpcError(
    'RESOURCE_EXHAUSTED',
    `this caller already has ${limit} streams open on this instance (maxConcurrentStreams of its NATS listener), so it refused this one and did not run it; end streams before opening more, or raise maxConcurrentStreams`,
    { progress: 'refused' },
  );
}

/** A service whose NATS user may only answer what it receives cannot stream: a stream takes many messages to the caller's inbox. */
export function streamsNeedInboxPermission(): RpcError {
  return new RpcError(
    'FAILED_PRECONDITION',
    "this service's NATS user may only answer the messages it receives (allow_responses), and a stream sends many messages to the caller's inbox, so it did not open the stream; allow the service's NATS user to publish to _INBOX.>",
    { retryable: false, progress: 'refused' },
  );
}

/** The listener closed with the stream still open (a close without a drain, or past it). */
export function streamListenerClosed(): RpcError {
  return new RpcError('UNAVAILABLE', 'the server closed its NATS listener while this stream was open; open it again, on another instance if this one is shutting down');
}
