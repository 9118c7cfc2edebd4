import type { Call } from '@svc/core';

/** Claims of a verified token (or what an API key's entry says); JSON values as the issuer sent them. */
export type Claims = Readonly<Record<string, unknown>>;

/**
 * Who a verified caller is: what a `Verifier` returns and what handlers read with `principalOf`.
 * `claims` is typed by the caller of `principalOf` (the server knows what its issuer puts in).
 */
export interface Principal<C extends object = Claims> {
  /** The caller's id: the token's `sub` (or `subjectClaim`), the API key's `subject`. */
  readonly subject: string;
  /** The roles the caller holds, compared with `@Method({ roles })`. */
  readonly roles: readonly string[];
  /** The scheme it was proven with: 'bearer', 'apikey', or a custom verifier's. */
  readonly scheme: string;
  /** The verified token's claims (empty for API keys unless their entry gives some). */
  readonly claims: C;
  /** When the credentials stop being valid (ms since the epoch, the token's exp); undefined when they do not expire. */
  readonly expiresAt?: number | undefined;
}

// Keyed by the CallContext itself: nothing to clean up, it goes with the call.
const principals = new WeakMap<Call, Principal>();

/**
 * The principal `authenticate` verified for this call, or undefined (a method open to anonymous
 * callers called without credentials, or a server without the auth filter).
 */
export function principalOf<C extends object = Claims>(ctx: Call): Principal<C> | undefined {
  return principals.get(ctx) as Principal<C> | undefined;
}

/** @internal The auth filter records the principal before the handler runs. */
export function recordPrincipal(ctx: Call, principal: Principal): void {
  principals.set(ctx, principal);
}
