import { hash, timingSafeEqual } from 'node:crypto';
import type { Call } from '@svc/core';
import type { Credential, Verifier } from './credential-verifier.js';
import type { Claims, Principal } from './principal.js';
import { checkAuthOptions } from './auth-options.js';
import { describe } from './describe-value.js';
import { invalidPolicy, unknownApiKey } from './resilience-errors.js';

/** What a listed API key stands for. */
export interface ApiKeyEntry {
  readonly subject: string;
  readonly roles?: readonly string[];
  readonly claims?: Claims;
}

/** A lookup of your own (a database, a secrets store): the principal of a key, or undefined for an unknown key. */
export type ApiKeyLookup = (key: string, call: Call) => Principal | undefined | Promise<Principal | undefined>;

export interface ApiKeyVerifierOptions {
  /** The keys and whom they stand for, or a lookup function. */
  keys: Readonly<Record<string, ApiKeyEntry>> | ApiKeyLookup;
}

interface ListedKey {
  readonly digest: Buffer;
  readonly principal: Principal;
}

/** Keys shorter than this are guessable: refused when the verifier is made. */
const MIN_KEY_LENGTH = 16;

/**
 * Verifies `ApiKey <key>` (or `x-api-key: <key>`). Listed keys are kept only as SHA-256 digests
 * and compared in constant time against every listed key (no early exit), so neither the time
 * nor a string comparison tells a caller how much of a key it got right.
 */
export function apiKeyVerifier(options: ApiKeyVerifierOptions): Verifier {
  const o = checkAuthOptions('apiKeyVerifier', options, ['keys']);
  const keys = o.keys;
  if (typeof keys === 'function') return new LookupVerifier(keys as ApiKeyLookup);
  if (keys === null || typeof keys !== 'object' || Array.isArray(keys)) throw invalidPolicy('apiKeyVerifier.keys', `expected an object of key → { subject, roles } or a function, got ${describe(keys)}`);
  const listed: ListedKey[] = [];
  for (const [key, entry] of Object.entries(keys as Record<string, unknown>)) {
    const path = `apiKeyVerifier.keys[…${key.slice(-4)}]`; // never the whole key in a message
    if (key.length < MIN_KEY_LENGTH) throw invalidPolicy(path, `a key of ${key.length} characters is guessable; use at least ${MIN_KEY_LENGTH} random characters`);
    const e = checkAuthOptions(path, entry, ['subject', 'roles', 'claims']);
    if (typeof e.subject !== 'string' || e.subject === '') throw invalidPolicy(`${path}.subject`, `expected a non-empty string, got ${describe(e.subject)}`);
    const roles = e.roles ?? [];
    if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string' && role !== '')) throw invalidPolicy(`${path}.roles`, 'expected a list of non-empty role names');
    if (e.claims !== undefined && (e.claims === null || typeof e.claims !== 'object')) throw invalidPolicy(`${path}.claims`, `expected an object, got ${describe(e.claims)}`);
    const principal: Principal = Object.freeze({ subject: e.subject, roles: Object.freeze([...(roles as string[])]), scheme: 'apikey', claims: Object.freeze({ ...((e.claims as Claims | undefined) ?? {}) }) });
    listed.push({ digest: digestOf(key), principal });
  }
  if (listed.length === 0) throw invalidPolicy('apiKeyVerifier.keys', 'lists no key');
  return new ListedVerifier(listed);
}

/** One-shot hashing (no Hash object per call). */
function digestOf(key: string): Buffer {
  return hash('sha256', key, 'buffer');
}

class ListedVerifier implements Verifier {
  readonly schemes: readonly string[] = ['apikey'];
  private readonly keys: readonly ListedKey[];

  constructor(keys: readonly ListedKey[]) {
    this.keys = keys;
  }

  verify(credential: Credential): Principal {
    const digest = digestOf(credential.value);
    let found: Principal | undefined;
    for (const key of this.keys) if (timingSafeEqual(key.digest, digest) && found === undefined) found = key.principal;
    if (found === undefined) throw unknownApiKey();
    return found;
  }
}

class LookupVerifier implements Verifier {
  readonly schemes: readonly string[] = ['apikey'];
  private readonly lookup: ApiKeyLookup;

  constructor(lookup: ApiKeyLookup) {
    this.lookup = lookup;
  }

  verify(credential: Credential, call: Call): Principal | Promise<Principal> {
    const found = this.lookup(credential.value, call);
    if (found instanceof Promise) return found.then(known);
    return known(found);
  }
}

function known(principal: Principal | undefined): Principal {
  if (principal === undefined) throw unknownApiKey();
  return principal;
}
