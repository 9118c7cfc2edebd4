import { RpcError } from '@svc/core';

/** Errors only the NATS transport raises; the shared ones come from `errors` in @svc/core/transport. */

export function noResponders(service: string, instance: string | undefined): RpcError {
  const who = instance === undefined ? `no instance of service '${service}'` : `instance '${instance}' of service '${service}'`;
  return new RpcError('UNAVAILABLE', `${who} is listening on NATS (no responders); start one, or check the service name and the subject prefix`);
}

export function payloadTooLarge(size: number, max: number): RpcError {
  return new RpcError('RESOURCE_EXHAUSTED', `message of ${size} bytes exceeds the NATS server's max_payload of ${max} bytes; raise max_payload on the server or send less`, { retryable: false });
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
