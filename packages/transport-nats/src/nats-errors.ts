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
