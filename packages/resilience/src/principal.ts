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

/**
 * Kept on the CallContext under a symbol of this module, so it goes with the call. Not a WeakMap:
 * its set was 3 % of a server's CPU at 100k calls/s (measured), a property on the context a
 * fraction of that. Handlers cannot reach the symbol, so only the auth filter writes it.
 */
const PRINCIPAL = Symbol('@svc/resilience principal');

type WithPrincipal = Call & { [PRINCIPAL]?: Principal };

/**
 * The principal `authenticate` verified for this call, or undefined (a method open to anonymous
 * callers called without credentials, or a server without the auth filter).
 */
export function principalOf<C extends object = Claims>(ctx: Call): Principal<C> | undefined {
  return (ctx as WithPrincipal)[PRINCIPAL] as Principal<C> | undefined;
}

/** @internal The auth filter records the principal before the handler runs. */
export function recordPrincipal(ctx: Call, principal: Principal): void {
  (ctx as WithPrincipal)[PRINCIPAL] = principal;
}
