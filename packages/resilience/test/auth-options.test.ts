import { describe, expect, it } from 'vitest';
import { authenticate } from '../src/auth-filter.js';
import { jwtVerifier } from '../src/jwt-verifier.js';
import { apiKeyVerifier } from '../src/api-key-verifier.js';
import { bearerToken } from '../src/bearer-token.js';
import { apiKey } from '../src/api-key-header.js';
import { keyPair, SECRET } from './helpers/auth-tokens.js';

/** The message of the INVALID_ARGUMENT `make()` throws. */
function refusal(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    expect((error as { code: string }).code).toBe('INVALID_ARGUMENT');
    return (error as Error).message;
  }
  throw new Error('expected the options to be refused');
}

const verifier = jwtVerifier({ secret: SECRET });

describe('auth options are checked when a part is made', () => {
  it('refuses unknown keys, naming them', () => {
    expect(refusal(() => jwtVerifier({ secret: SECRET, audiance: 'x' } as never))).toContain('jwtVerifier.audiance: unknown option');
    expect(refusal(() => jwtVerifier({ jwksUrl: 'https://idp.test/jwks', jwks: { coolDown: 1 } } as never))).toContain('jwtVerifier.jwks.coolDown: unknown option');
    expect(refusal(() => authenticate({ verifiers: verifier, role: ['admin'] } as never))).toContain('authenticate.role: unknown option');
    expect(refusal(() => apiKeyVerifier({ keys: {}, hash: 'md5' } as never))).toContain('apiKeyVerifier.hash: unknown option');
    expect(refusal(() => apiKeyVerifier({ keys: { sk_live_0123456789abcdef: { subject: 's', role: [] } } } as never))).toContain('apiKeyVerifier.keys[…cdef].role: unknown option');
    expect(refusal(() => bearerToken(() => 't', { refreshBefore: 1 } as never))).toContain('bearerToken.refreshBefore: unknown option');
    expect(refusal(() => apiKey('k', { header: 'x' } as never))).toContain('apiKey.header: unknown option');
  });

  it('jwtVerifier needs exactly one key source, a long enough secret, a public key, and algorithms that fit it', async () => {
    const { publicKey, privateKey } = await keyPair('RS256');
    expect(refusal(() => jwtVerifier({}))).toContain('give exactly one of secret, publicKey, keys, jwksUrl (got none)');
    expect(refusal(() => jwtVerifier({ secret: SECRET, publicKey }))).toContain('(got secret, publicKey)');
    expect(refusal(() => jwtVerifier({ secret: 'short' }))).toContain('is 5 bytes; an HS256 secret needs at least 32');
    expect(refusal(() => jwtVerifier({ publicKey: privateKey }))).toContain('is a private key');
    expect(refusal(() => jwtVerifier({ publicKey: 'not a pem' }))).toContain('jwtVerifier.publicKey: not a usable public key');
    expect(refusal(() => jwtVerifier({ secret: SECRET, algorithms: ['RS256'] }))).toContain("'RS256' needs a public key");
    expect(refusal(() => jwtVerifier({ publicKey, algorithms: ['HS256'] }))).toContain("'HS256' is not a signature algorithm for public keys");
    expect(refusal(() => jwtVerifier({ publicKey, algorithms: ['none'] }))).toContain("'none' would accept unsigned tokens");
    expect(refusal(() => jwtVerifier({ jwksUrl: 'ftp://idp.test/jwks' }))).toContain('jwtVerifier.jwksUrl: not an http(s) URL');
    expect(refusal(() => jwtVerifier({ secret: SECRET, clockToleranceSec: -1 }))).toContain('jwtVerifier.clockToleranceSec');
    expect(refusal(() => jwtVerifier({ secret: SECRET, cacheSize: 1.5 }))).toContain('jwtVerifier.cacheSize');
    expect(refusal(() => jwtVerifier({ secret: SECRET, audience: [] }))).toContain('jwtVerifier.audience');
    expect(refusal(() => jwtVerifier({ keys: [] }))).toContain('jwtVerifier.keys');
    expect(refusal(() => jwtVerifier({ secret: SECRET, jwks: { timeoutMs: 1 } }))).toContain('give jwksUrl too');
    expect(refusal(() => jwtVerifier({ jwksUrl: 'https://idp.test/jwks', jwks: { timeoutMs: -1 } }))).toContain('jwtVerifier.jwks.timeoutMs');
  });

  it('authenticate needs verifiers and usable settings; API keys must be long enough', () => {
    expect(refusal(() => authenticate({ verifiers: [] }))).toContain('give at least one verifier');
    expect(refusal(() => authenticate({ verifiers: [{ verify: () => undefined }] as never }))).toContain('authenticate.verifiers[0]: expected a Verifier');
    expect(refusal(() => authenticate({ verifiers: { schemes: ['Bearer'], verify: () => undefined } as never }))).toContain('lower-case token');
    expect(refusal(() => authenticate({ verifiers: verifier, roles: 'admin' as never }))).toContain('authenticate.roles');
    expect(refusal(() => authenticate({ verifiers: verifier, anonymous: 'yes' as never }))).toContain('authenticate.anonymous');
    expect(refusal(() => authenticate({ verifiers: verifier, policy: true as never }))).toContain('authenticate.policy');
    expect(refusal(() => authenticate({ verifiers: verifier, metadataKey: 'Authorization' }))).toContain('lower-case metadata key');
    expect(refusal(() => apiKeyVerifier({ keys: { short: { subject: 's' } } }))).toContain('is guessable');
    expect(refusal(() => apiKeyVerifier({ keys: {} }))).toContain('lists no key');
    expect(refusal(() => bearerToken(''))).toContain('empty string');
    expect(refusal(() => bearerToken(() => 't', { ttlMs: 0 }))).toContain('bearerToken.ttlMs');
  });
});
