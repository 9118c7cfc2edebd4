import { SignJWT, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';

export const SECRET = 'a-test-secret-of-at-least-32-bytes-long!';
export const secretBytes = new TextEncoder().encode(SECRET);

export interface TokenOptions {
  alg?: string;
  kid?: string;
  sub?: string | undefined;
  /** Seconds from now (negative: in the past). Default 3600. */
  expiresIn?: number | undefined;
  notBeforeIn?: number;
  audience?: string;
  issuer?: string;
  claims?: JWTPayload;
}

/** A signed JWT with the given claims (HS256 with SECRET unless a key is given). */
export async function token(options: TokenOptions = {}, key: CryptoKey | Uint8Array = secretBytes): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...(options.claims ?? { roles: ['reader'] }) }).setProtectedHeader({ alg: options.alg ?? 'HS256', ...(options.kid ? { kid: options.kid } : {}) }).setIssuedAt(now);
  if (!('sub' in options) || options.sub !== undefined) jwt.setSubject(options.sub ?? 'alice');
  if (!('expiresIn' in options) || options.expiresIn !== undefined) jwt.setExpirationTime(now + (options.expiresIn ?? 3600));
  if (options.notBeforeIn !== undefined) jwt.setNotBefore(now + options.notBeforeIn);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  return jwt.sign(key);
}

export async function keyPair(alg: 'RS256' | 'EdDSA' | 'ES256') {
  return generateKeyPair(alg, { extractable: true });
}
