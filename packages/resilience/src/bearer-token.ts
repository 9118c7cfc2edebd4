import { decodeJwt } from 'jose';
import type { Call, Filter, Metadata, Next } from '@svc/core';
import { checkAuthOptions, checkMetadataKey } from './auth-options.js';
import { describe } from './describe-value.js';
import { invalidPolicy, tokenSourceFailed } from './resilience-errors.js';

/** A token, or a function that gets a fresh one (from an OAuth client, a file, a metadata server). */
export type TokenSource = string | (() => string | Promise<string>);

export interface BearerTokenOptions {
  /** A JWT is fetched again this long before its exp (the old one is sent meanwhile). Default 30 000. */
  refreshBeforeMs?: number;
  /** How long a token whose exp cannot be read (not a JWT) is reused before the source is asked again. Default 300 000. */
  ttlMs?: number;
  /** The metadata key. Default 'authorization' (the value is `Bearer <token>`). */
  metadataKey?: string;
}

const OPTION_KEYS = ['refreshBeforeMs', 'ttlMs', 'metadataKey'] as const;

/**
 * A client call filter that sends `authorization: Bearer <token>` with every call and publish.
 * With a function source the token is kept: a JWT until shortly before its exp (fetched again in
 * the background while the old one is still good; callers wait only when there is no valid one),
 * anything else for `ttlMs`. One fetch at a time, whatever the number of calls. A source that
 * fails when there is no valid token fails the call with UNAUTHENTICATED, progress 'not_sent'.
 * A call that sets the key in its own metadata keeps its own.
 */
export function bearerToken(source: TokenSource, options: BearerTokenOptions = {}): Filter {
  const o = checkAuthOptions('bearerToken', options, OPTION_KEYS);
  const metadataKey = checkMetadataKey('bearerToken.metadataKey', o.metadataKey ?? 'authorization');
  if (typeof source === 'string') {
    if (source === '') throw invalidPolicy('bearerToken', 'the token is an empty string');
    return fixedMetadata(metadataKey, `Bearer ${source}`);
  }
  if (typeof source !== 'function') throw invalidPolicy('bearerToken', `expected a token string or a function returning one, got ${describe(source)}`);
  const refreshBeforeMs = milliseconds('bearerToken.refreshBeforeMs', o.refreshBeforeMs ?? 30_000);
  const ttlMs = milliseconds('bearerToken.ttlMs', o.ttlMs ?? 300_000);
  if (ttlMs === 0) throw invalidPolicy('bearerToken.ttlMs', 'must be above 0');
  const tokens = new RefreshingToken(source, metadataKey, refreshBeforeMs, ttlMs);
  return (call, next) => tokens.filter(call, next);
}

/** A filter that sets one fixed metadata entry (a static token, an API key). */
export function fixedMetadata(metadataKey: string, value: string): Filter {
  return (call, next) => {
    const metadata = call.metadata as Metadata;
    if (metadata[metadataKey] === undefined) metadata[metadataKey] = value;
    return next();
  };
}

function milliseconds(path: string, value: unknown): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) throw invalidPolicy(path, `expected milliseconds >= 0, got ${describe(value)}`);
  return value;
}

class RefreshingToken {
  private readonly source: () => string | Promise<string>;
  private readonly metadataKey: string;
  private readonly refreshBeforeMs: number;
  private readonly ttlMs: number;
  /** `Bearer <token>`, once there is one. */
  private header: string | undefined = undefined;
  /** From then on a new token is fetched (in the background while the old one is good). */
  private refreshAt = 0;
  /** From then on the old token is not sent: calls wait for the new one. */
  private expiresAt = 0;
  /** The fetch under way: every caller waits for the same one. */
  private pending: Promise<string> | undefined = undefined;
  private readonly ignore = (): void => {};

  constructor(source: () => string | Promise<string>, metadataKey: string, refreshBeforeMs: number, ttlMs: number) {
    this.source = source;
    this.metadataKey = metadataKey;
    this.refreshBeforeMs = refreshBeforeMs;
    this.ttlMs = ttlMs;
  }

  filter(call: Call, next: Next): Promise<unknown> {
    const metadata = call.metadata as Metadata;
    if (metadata[this.metadataKey] !== undefined) return next();
    const now = Date.now();
    const header = this.header;
    if (header !== undefined && now < this.expiresAt) {
      // Good still; past refreshAt a new one is fetched meanwhile (its failure is kept from the caller until the old one runs out).
      if (now >= this.refreshAt && this.pending === undefined) this.refresh().catch(this.ignore);
      metadata[this.metadataKey] = header;
      return next();
    }
    return this.refresh().then((fresh) => {
      metadata[this.metadataKey] = fresh;
      return next();
    });
  }

  private refresh(): Promise<string> {
    return (this.pending ??= this.fetch().finally(() => {
      this.pending = undefined;
    }));
  }

  private async fetch(): Promise<string> {
    let token: unknown;
    try {
      token = await this.source();
    } catch (error) {
      throw tokenSourceFailed(error instanceof Error ? error.message : String(error), error);
    }
    if (typeof token !== 'string' || token === '') throw tokenSourceFailed(`it returned ${describe(token)}, not a token`, undefined);
    const now = Date.now();
    const exp = expiryOf(token);
    if (exp === undefined) {
      this.expiresAt = this.refreshAt = now + this.ttlMs;
    } else {
      this.expiresAt = exp;
      // A token that lives less than refreshBeforeMs is fetched again halfway through its life.
      this.refreshAt = exp - this.refreshBeforeMs > now ? exp - this.refreshBeforeMs : now + (exp - now) / 2;
    }
    this.header = `Bearer ${token}`;
    return this.header;
  }
}

/** The exp of a JWT in ms (read, not verified: the server verifies), or undefined for any other token. */
function expiryOf(token: string): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
