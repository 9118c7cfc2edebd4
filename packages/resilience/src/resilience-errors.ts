import { PUSHBACK_METADATA_KEY, RpcError } from '@svc/core';

/**
 * Every error @svc/resilience raises is made here: one stable code each, and a message that says
 * what happened and what to do. docs/resilience.md and docs/auth.md list them.
 */

/** Metadata telling the client's retry budget and backoff how long to stay away (core's pushback). */
export function pushback(ms: number): { [PUSHBACK_METADATA_KEY]: string } {
  return { [PUSHBACK_METADATA_KEY]: String(Math.max(0, Math.ceil(ms))) };
}

// ── policy ────────────────────────────────────────────────────────────────────────────────────

/** A policy object (or a part's options) that cannot be used: refused when it is made, never per call. */
export function invalidPolicy(path: string, problem: string): RpcError {
  return new RpcError('INVALID_ARGUMENT', `resilience policy: ${path}: ${problem}`, { retryable: false, progress: 'not_sent' });
}

// ── circuit breaker ───────────────────────────────────────────────────────────────────────────

/**
 * The breaker of this node is open (or half-open with its one probe call out): nothing was sent,
 * so the call may go to another node at once. `retryInMs` ≤ 0: the probe is out now.
 */
export function circuitOpen(service: string, method: string, address: string, retryInMs: number): RpcError {
  const when = retryInMs > 0 ? `this one is tried again in about ${Math.ceil(retryInMs)} ms` : 'one probe call is testing this one now';
  return new RpcError('UNAVAILABLE', `the circuit breaker for ${service}.${method} on ${address} is open after repeated failures; calls go to other nodes, and ${when}`, { progress: 'not_sent' });
}

// ── rate limits ───────────────────────────────────────────────────────────────────────────────

/** Why a rate limit refused a call: no slot now and no queue, the queue full, or the wait too long. */
export type RateLimitRefusal = { readonly why: 'no_slot' } | { readonly why: 'queue_full'; readonly queue: number } | { readonly why: 'wait_too_long'; readonly waitMs: number; readonly maxWaitMs: number } | { readonly why: 'past_deadline'; readonly waitMs: number };

/**
 * A rate limit refused the call before it ran (the client's: nothing was sent; the server's: no
 * handler ran). `scope` names whose budget it was ("Shop.order", "each caller's 'x-api-key' of
 * Shop"), `limit` the limit ("50 calls per 1000 ms"); the pushback tells the client when a slot frees.
 */
export function rateLimited(scope: string, limit: string, retryInMs: number, refusal: RateLimitRefusal, side: 'client' | 'server'): RpcError {
  const inMs = Math.max(1, Math.ceil(retryInMs));
  const because =
    refusal.why === 'no_slot'
      ? 'no slot was free'
      : refusal.why === 'queue_full'
        ? `no slot was free and its queue of ${refusal.queue} waiting call${refusal.queue === 1 ? '' : 's'} was full`
        : refusal.why === 'wait_too_long'
          ? `it would have waited ${Math.ceil(refusal.waitMs)} ms for a slot, longer than maxWaitMs ${refusal.maxWaitMs}`
          : `it would have waited ${Math.ceil(refusal.waitMs)} ms for a slot, past its deadline`;
  return new RpcError(
    'RESOURCE_EXHAUSTED',
    `rate limit of ${scope} (${limit}) exceeded: ${because}, so the call was refused before it ran (${side === 'client' ? 'nothing was sent' : 'no handler ran'}); a slot frees in about ${inMs} ms. Retry after that, spread the calls out, or raise the limit`,
    { progress: side === 'client' ? 'not_sent' : 'refused', metadata: pushback(inMs) },
  );
}

/** A cluster-wide limit could not ask Redis and fails closed (failOpen: false). */
export function rateLimitStoreDown(scope: string, limit: string, store: string, problem: string, retryInMs: number, side: 'client' | 'server'): RpcError {
  return new RpcError(
    'UNAVAILABLE',
    `the cluster-wide rate limit of ${scope} (${limit}) could not be checked: Redis at ${store} ${problem}; the limit fails closed (failOpen: false), so the call was refused before it ran. Retry in about ${Math.ceil(retryInMs)} ms, bring Redis back, or set failOpen: true to let calls through under each process's own copy of the limit while Redis is down`,
    { progress: side === 'client' ? 'not_sent' : 'refused', metadata: pushback(retryInMs) },
  );
}

/** A call was still waiting in a rate limit's queue when the limiter was closed. */
export function rateLimiterClosed(scope: string, side: 'client' | 'server'): RpcError {
  return new RpcError('UNAVAILABLE', `the rate limiter of ${scope} was closed while the call waited for a slot; it was not run. Retry on a client or server that is still open`, {
    progress: side === 'client' ? 'not_sent' : 'refused',
  });
}

// ── bulkhead and load shedding ────────────────────────────────────────────────────────────────

/**
 * A refusal made without a stack: these are thrown by the thousand exactly when the process is
 * short of CPU, and a stack capture is most of an error's cost (measured: 2.7 µs with, 0.3 µs
 * without). Their stack would only ever point at the filter.
 */
function refusal(code: 'RESOURCE_EXHAUSTED' | 'UNAVAILABLE', message: string, side: 'client' | 'server', pushbackMs: number): RpcError {
  return stackless(() => new RpcError(code, message, { progress: side === 'client' ? 'not_sent' : 'refused', metadata: pushback(pushbackMs) }));
}

function stackless(make: () => RpcError): RpcError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Every slot of a method's bulkhead is taken and its queue is full: refused before the handler (or, on a client, before sending). */
export function bulkheadFull(service: string, method: string, concurrency: number, queue: number, side: 'client' | 'server', pushbackMs: number): RpcError {
  const where = side === 'client' ? 'this client' : 'the server';
  return refusal(
    'RESOURCE_EXHAUSTED',
    `${service}.${method} is at its bulkhead limit on ${where}: ${concurrency} calls running and ${queue} waiting; try again in about ${Math.ceil(pushbackMs)} ms or on another node, or raise { concurrency, queue }`,
    side,
    pushbackMs,
  );
}

/** A call waited in a method's bulkhead queue for `maxWaitMs` without getting a slot. */
export function bulkheadWaitedTooLong(service: string, method: string, waitedMs: number, side: 'client' | 'server', pushbackMs: number): RpcError {
  return refusal(
    'RESOURCE_EXHAUSTED',
    `${service}.${method} waited ${Math.round(waitedMs)} ms in its bulkhead queue (maxWaitMs) without a free slot; try again in about ${Math.ceil(pushbackMs)} ms or on another node`,
    side,
    pushbackMs,
  );
}

/** The bulkhead was closed while the call waited in its queue. */
export function bulkheadClosed(service: string, method: string, side: 'client' | 'server'): RpcError {
  return refusal('UNAVAILABLE', `${service}.${method} was waiting in a bulkhead queue that was closed (the ${side} is shutting down); try another node`, side, 0);
}

/** The server's event loop is running late: a share of new calls is refused so that the rest stay fast. */
export function serverOverloaded(service: string, method: string, delayMs: number, targetMs: number, share: number, pushbackMs: number): RpcError {
  return refusal(
    'RESOURCE_EXHAUSTED',
    `the server is overloaded (event-loop delay ${delayMs.toFixed(1)} ms, target ${targetMs} ms) and refused ${service}.${method} unrun, as it does ${Math.round(share * 100)} % of new calls now; try another node, or this one again in about ${Math.ceil(pushbackMs)} ms`,
    'server',
    pushbackMs,
  );
}

/** The server already runs `maxInFlight` calls (those behind the shedder): refused unrun. */
export function serverAtInFlightLimit(service: string, method: string, maxInFlight: number, pushbackMs: number): RpcError {
  return refusal(
    'RESOURCE_EXHAUSTED',
    `the server already runs ${maxInFlight} calls (its load shedder's maxInFlight) and refused ${service}.${method} unrun; try another node, or this one again in about ${Math.ceil(pushbackMs)} ms`,
    'server',
    pushbackMs,
  );
}

// ── auth ──────────────────────────────────────────────────────────────────────────────────────

// Every refusal of auth is not retryable: another node would refuse the same credentials. The
// server answers them before the handler, so the caller sees progress 'refused'. Messages name
// what is wrong with the credentials, never a secret, a key or the token itself.

function unauthenticated(message: string): RpcError {
  return new RpcError('UNAUTHENTICATED', message, { retryable: false });
}

/** No credentials in the call's metadata for a method that needs them. */
export function missingCredentials(service: string, method: string, expected: string): RpcError {
  return unauthenticated(`${service}.${method} needs credentials: send ${expected}`);
}

/** Credentials of a scheme no verifier of this server takes (e.g. `Basic` where only `Bearer` is). */
export function unsupportedScheme(scheme: string, accepted: readonly string[]): RpcError {
  return unauthenticated(`credentials of scheme '${scheme.slice(0, 32)}' are not accepted here; use ${accepted.join(' or ')}`);
}

/** An authorization value that is not `<scheme> <value>`, or an empty value. */
export function malformedCredentials(metadataKey: string): RpcError {
  return unauthenticated(`the '${metadataKey}' metadata is not '<scheme> <credentials>' (e.g. 'Bearer <token>'); send it in that form`);
}

/** The token's exp has passed (beyond the clock tolerance). */
export function tokenExpired(): RpcError {
  return unauthenticated('the token has expired (exp is in the past); get a new token and call again');
}

/** The token's nbf is in the future (beyond the clock tolerance). */
export function tokenNotYetValid(): RpcError {
  return unauthenticated('the token is not valid yet (nbf is in the future); check the clocks of the token issuer and this server');
}

/** The signature does not verify with the server's key(s). */
export function badSignature(): RpcError {
  return unauthenticated('the token signature does not verify with the keys of this server; it was signed by another issuer, or altered');
}

/** The token's aud does not name this server's audience. */
export function wrongAudience(): RpcError {
  return unauthenticated('the token audience (aud) is not the one this server accepts; ask its issuer for a token for this service');
}

/** The token's iss is not the issuer this server trusts. */
export function wrongIssuer(): RpcError {
  return unauthenticated('the token issuer (iss) is not one this server trusts');
}

/** A claim the server needs is missing or has the wrong type (sub, exp, roles…). */
export function invalidTokenClaim(claim: string, problem: string): RpcError {
  return unauthenticated(`the token claim '${claim.slice(0, 64)}' ${problem}`);
}

/** The token's alg is not one the server allows (alg confusion and 'none' are refused this way). */
export function algorithmNotAllowed(alg: string, allowed: readonly string[]): RpcError {
  return unauthenticated(`tokens signed with '${alg.slice(0, 16)}' are not accepted here; this server takes ${allowed.join(', ')}`);
}

/** A token that is not a compact JWS (three base64url parts) or whose header or claims are not JSON. */
export function malformedToken(): RpcError {
  return unauthenticated('the bearer token is not a well-formed JWT (header.payload.signature, base64url JSON)');
}

/** No key of the server's key set has the token's kid (nor matches its alg), also after refetching the JWKS. */
export function unknownSigningKey(kid: string | undefined): RpcError {
  return unauthenticated(kid === undefined ? 'the token has no kid and no key of this server matches it' : `no key of this server has kid '${kid.slice(0, 64)}'; the token was signed with a key it does not know`);
}

/** The API key is not one this server knows. */
export function unknownApiKey(): RpcError {
  return unauthenticated('the API key is not known here; check that the key is current');
}

/**
 * The JWKS could not be fetched (down, slow, not a key set): the server cannot check any token,
 * which is its problem, not the caller's. UNAVAILABLE and retryable, so the call may go to a node
 * that has its keys; the pushback keeps the retry from coming back at once.
 */
export function signingKeysUnavailable(url: string, reason: string): RpcError {
  return new RpcError('UNAVAILABLE', `the signing keys (JWKS at ${url}) cannot be fetched: ${reason}; try again shortly`, { metadata: pushback(1_000) });
}

/** The caller is authenticated but holds none of the method's roles. */
export function missingRole(service: string, method: string, subject: string, roles: readonly string[]): RpcError {
  return new RpcError('PERMISSION_DENIED', `${service}.${method} needs one of the roles ${roles.join(', ')}; '${subject.slice(0, 64)}' has none of them`, { retryable: false });
}

/** The caller is authenticated but the server's policy function said no. */
export function policyRefused(service: string, method: string, subject: string): RpcError {
  return new RpcError('PERMISSION_DENIED', `${service}.${method} is not allowed for '${subject.slice(0, 64)}' by this server's access policy`, { retryable: false });
}

/** Client side: the token source threw or returned no token; nothing was sent. */
export function tokenSourceFailed(reason: string, cause: unknown): RpcError {
  return new RpcError('UNAUTHENTICATED', `no token to send: the token source failed (${reason}); the call was not sent`, { retryable: false, progress: 'not_sent', cause });
}

// ── adaptive throttling ───────────────────────────────────────────────────────────────────────

/**
 * The client held this attempt back (adaptiveThrottle): the node refused many recent calls as
 * overloaded, so a share of new ones is not sent. Nothing left the client, so the call may go to
 * another node at once. Without a stack, as the refusals above: it comes by the thousand under overload.
 */
export function throttledLocally(service: string, address: string, share: number, windowMs: number): RpcError {
  return stackless(() => new RpcError(
    'RESOURCE_EXHAUSTED',
    `the client held back this call to ${service} on ${address}: that node refused many of its calls as overloaded in the last ${windowMs / 1000} s, so ${Math.round(share * 100)} % of new calls to it are not sent (adaptive throttling); the share falls as the node accepts calls again, or add capacity`,
    { progress: 'not_sent' },
  ));
}
