import { afterEach, describe, expect, it } from 'vitest';
import { exportJWK } from 'jose';
import { authenticate } from '../src/auth-filter.js';
import { jwtVerifier } from '../src/jwt-verifier.js';
import { bearerToken } from '../src/bearer-token.js';
import { rejection, vaultServer } from './helpers/auth-service.js';
import { jwksServer } from './helpers/auth-jwks-server.js';
import { keyPair, token } from './helpers/auth-tokens.js';
import { freePort } from './helpers/free-port.js';

const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

describe('jwtVerifier with a JWKS from a real HTTP server', () => {
  it('fetches the key set once, serves known kids from it, and fetches again for a new kid after a rotation', async () => {
    const a = await keyPair('RS256');
    const b = await keyPair('RS256');
    const jwks = await jwksServer([{ ...(await exportJWK(a.publicKey)), kid: 'key-a', alg: 'RS256', use: 'sig' }]);
    closing.push(jwks.close);
    const setup = await vaultServer([authenticate({ verifiers: jwtVerifier({ jwksUrl: jwks.url, issuer: 'idp', jwks: { cooldownMs: 0 } }) })]);
    closing.push(setup.close);

    const first = setup.client([bearerToken(await token({ alg: 'RS256', kid: 'key-a', issuer: 'idp', sub: 'one' }, a.privateKey))]);
    expect(await first.invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'one' });
    const second = setup.client([bearerToken(await token({ alg: 'RS256', kid: 'key-a', issuer: 'idp', sub: 'two' }, a.privateKey))]);
    expect(await second.invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'two' });
    expect(jwks.state.fetches).toBe(1);

    // The issuer rotates: key-b joins the set; a token signed with it makes the verifier fetch again.
    jwks.state.keys = [...jwks.state.keys, { ...(await exportJWK(b.publicKey)), kid: 'key-b', alg: 'RS256', use: 'sig' }];
    const rotated = setup.client([bearerToken(await token({ alg: 'RS256', kid: 'key-b', issuer: 'idp', sub: 'three' }, b.privateKey))]);
    expect(await rotated.invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'three' });
    expect(jwks.state.fetches).toBe(2);

    const unknown = await rejection(setup.client([bearerToken(await token({ alg: 'RS256', kid: 'key-z', issuer: 'idp' }, b.privateKey))]).invoke('Vault', 'read', {}));
    expect(unknown.code).toBe('UNAUTHENTICATED');
    expect(unknown.message).toContain("no key of this server has kid 'key-z'");
    expect(setup.service.runs).toBe(3);
  });

  it('a key set that cannot be fetched is UNAVAILABLE (the server cannot check tokens), with a pushback, and no handler runs', async () => {
    const port = await freePort(); // nothing listens there
    const setup = await vaultServer([authenticate({ verifiers: jwtVerifier({ jwksUrl: `http://127.0.0.1:${port}/jwks?secret=s3cr3t`, jwks: { timeoutMs: 1_000 } }) })]);
    closing.push(setup.close);
    const { privateKey } = await keyPair('EdDSA');
    const error = await rejection(setup.client([bearerToken(await token({ alg: 'EdDSA', kid: 'k' }, privateKey))]).invoke('Vault', 'read', {}));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain(`the signing keys (JWKS at http://127.0.0.1:${port}/jwks) cannot be fetched`);
    expect(error.message).not.toContain('s3cr3t');
    expect((error as unknown as { metadata: Record<string, string> }).metadata['svc-retry-pushback-ms']).toBe('1000');
    expect(setup.service.runs).toBe(0);
  });
});
