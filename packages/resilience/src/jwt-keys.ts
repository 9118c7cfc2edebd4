import { createPublicKey, KeyObject, type JsonWebKeyInput } from 'node:crypto';
import type { JWK } from 'jose';
import type { CryptoKey } from 'jose';
import { invalidPolicy } from './resilience-errors.js';
import { describe } from './describe-value.js';

/** A public key as applications hold one: a Web Crypto key, a Node KeyObject, a JWK, or SPKI / certificate PEM text. */
export type PublicKeyInput = CryptoKey | KeyObject | JWK | string;

/** The algorithms a key may verify when `algorithms` is not given: its own family only, never HMAC (alg confusion). */
const RSA = ['RS256', 'RS384', 'RS512'] as const;
const RSA_PSS = ['PS256', 'PS384', 'PS512'] as const;
const EC_BY_CURVE: Readonly<Record<string, string>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };
const EDDSA = ['EdDSA', 'Ed25519'] as const;
export const HMAC_ALGORITHMS: readonly string[] = ['HS256', 'HS384', 'HS512'];
/** For a JWKS, whose keys are not known in advance: every asymmetric JWS algorithm jose verifies. */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = [...RSA, ...RSA_PSS, 'ES256', 'ES384', 'ES512', ...EDDSA];

/** The key as a Node KeyObject (what jose verifies with, without an async import per key), checked to be public. */
export function publicKeyObject(path: string, input: unknown): KeyObject {
  let key: KeyObject;
  try {
    if (input instanceof KeyObject) key = input;
    else if (typeof input === 'string') key = createPublicKey(input);
    else if (isCryptoKey(input)) key = KeyObject.from(input);
    else if (input !== null && typeof input === 'object' && typeof (input as JWK).kty === 'string') key = createPublicKey({ key: input as JsonWebKeyInput['key'], format: 'jwk' });
    else throw new TypeError(`expected a CryptoKey, KeyObject, JWK or PEM string, got ${describe(input)}`);
  } catch (error) {
    throw invalidPolicy(path, `not a usable public key: ${(error as Error).message}`);
  }
  if (key.type === 'private') throw invalidPolicy(path, 'is a private key: give the server the public key only');
  if (key.type !== 'public') throw invalidPolicy(path, 'is a secret key: use the secret option for HMAC (HS256)');
  return key;
}

/** The JWK `alg` of an input that names one (a JWK with alg), else undefined. */
export function declaredAlgorithm(input: unknown): string | undefined {
  return input !== null && typeof input === 'object' && !(input instanceof KeyObject) && !isCryptoKey(input) && typeof (input as JWK).alg === 'string' ? ((input as JWK).alg as string) : undefined;
}

/** The JWK `kid` of an input that has one. */
export function declaredKid(input: unknown): string | undefined {
  return input !== null && typeof input === 'object' && !(input instanceof KeyObject) && !isCryptoKey(input) && typeof (input as JWK).kid === 'string' ? ((input as JWK).kid as string) : undefined;
}

/** The algorithms a public key can verify, by its type (and curve). */
export function algorithmsOf(path: string, key: KeyObject, declared: string | undefined): readonly string[] {
  if (declared !== undefined) return [declared];
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return RSA;
    case 'rsa-pss':
      return RSA_PSS;
    case 'ed25519':
      return EDDSA;
    case 'ec': {
      const alg = EC_BY_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (alg !== undefined) return [alg];
      break;
    }
  }
  throw invalidPolicy(path, `keys of type ${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''} are not supported for JWT signatures`);
}

/** An HMAC secret's bytes: at least 32, since a short secret can be guessed offline from any token. */
export function secretBytes(path: string, input: unknown): Uint8Array {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input instanceof Uint8Array ? new Uint8Array(input) : undefined;
  if (bytes === undefined) throw invalidPolicy(path, `expected a string or bytes, got ${describe(input)}`);
  if (bytes.length < 32) throw invalidPolicy(path, `is ${bytes.length} bytes; an HS256 secret needs at least 32 random bytes`);
  return bytes;
}

/**
 * The secret as a Web Crypto HMAC key per algorithm, imported once: given raw bytes or a
 * KeyObject, jose imports the key again for every token, which costs more than the check itself
 * (measured on Node 20: 46 µs a token with a KeyObject, 19 µs with a CryptoKey). jose has checked
 * the token's alg against the allowed ones before it asks.
 */
export function hmacKeys(bytes: Uint8Array): (header: { alg?: string }) => Promise<CryptoKey> {
  const imported = new Map<string, Promise<CryptoKey>>();
  return ({ alg = '' }) => {
    let key = imported.get(alg);
    if (key === undefined) {
      key = crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: `SHA-${alg.slice(2)}` }, false, ['verify']) as Promise<CryptoKey>;
      imported.set(alg, key);
    }
    return key;
  };
}

/** Node 20 has the Web Crypto key class as a global (its type is not in lib ES2023). */
const CryptoKeyClass = (globalThis as { CryptoKey?: abstract new () => unknown }).CryptoKey;

function isCryptoKey(value: unknown): value is CryptoKey {
  return CryptoKeyClass !== undefined && value instanceof CryptoKeyClass;
}
