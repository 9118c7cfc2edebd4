import { afterEach, describe, expect, it } from 'vitest';
import { checkHealth } from '@svc/core';
import { exportJWK, exportSPKI } from 'jose';
import { authenticate } from '../src/auth-filter.js';
import { jwtVerifier } from '../src/jwt-verifier.js';
import { bearerToken } from '../src/bearer-token.js';
import { rejection, vaultServer } from './helpers/auth-service.js';
import { keyPair, SECRET, secretBytes, token } from './helpers/auth-tokens.js';

type Setup = Awaited<ReturnType<typeof vaultServer>>;
let setup: Setup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

const strict = () => jwtVerifier({ secret: SECRET, audience: 'vault', issuer: 'https://issuer.test' });
const good = (extra: Parameters<typeof token>[0] = {}) => token({ audience: 'vault', issuer: 'https://issuer.test', ...extra });

describe('authenticate with JWTs (HS256) over TCP', () => {
  it('refuses a call without credentials: UNAUTHENTICATED, refused, not retryable, no handler run', async () => {
    setup = await vaultServer([authenticate({ verifiers: strict() })]);
    const error = await rejection(setup.client().invoke('Vault', 'read', {}));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.message).toContain('Vault.read needs credentials');
    expect(error.message).toContain("authorization: Bearer <token>");
    expect(error.progress).toBe('refused');
    expect(error.retryable).toBe(false);
    expect(setup.service.runs).toBe(0);
  });

  it.each([
    ['expired', { expiresIn: -60 }, 'has expired'],
    ['not yet valid', { notBeforeIn: 600 }, 'not valid yet'],
    ['for another audience', { audience: 'billing' }, 'audience'],
    ['from another issuer', { issuer: 'https://evil.test' }, 'issuer'],
    ['without a subject', { sub: undefined }, "claim 'sub'"],
  ] as const)('refuses a token %s with a message saying so', async (_what, options, says) => {
    setup = await vaultServer([authenticate({ verifiers: strict() })]);
    const jwt = await good(options);
    const error = await rejection(setup.client([bearerToken(jwt)]).invoke('Vault', 'read', {}));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.message).toContain(says);
    expect(error.message).not.toContain(jwt);
    expect(error.message).not.toContain(SECRET);
    expect(error.progress).toBe('refused');
    expect(setup.service.runs).toBe(0);
  });

  it('refuses a token signed with another secret, an altered one, garbage, and alg none', async () => {
    setup = await vaultServer([authenticate({ verifiers: strict() })]);
    const other = await token({ audience: 'vault', issuer: 'https://issuer.test' }, new TextEncoder().encode('another-secret-that-is-32-bytes-or-more'));
    const [h, p, s] = (await good()).split('.');
    const altered = `${h}.${Buffer.from(JSON.stringify({ sub: 'mallory', roles: ['admin'], aud: 'vault', iss: 'https://issuer.test', exp: 9e9 })).toString('base64url')}.${s}`;
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
    const cases: [string, string][] = [
      [other, 'signature does not verify'],
      [altered, 'signature does not verify'],
      ['not-a-jwt', 'not a well-formed JWT'],
      [none, "'none' are not accepted"],
    ];
    for (const [jwt, says] of cases) {
      const error = await rejection(setup.client().invoke('Vault', 'read', {}, { metadata: { authorization: `Bearer ${jwt}` } }));
      expect(error.code, says).toBe('UNAUTHENTICATED');
      expect(error.message).toContain(says);
    }
    expect(setup.service.runs).toBe(0);
  });

  it('refuses a scheme it has no verifier for, and a malformed authorization value', async () => {
    setup = await vaultServer([authenticate({ verifiers: strict() })]);
    const client = setup.client();
    const basic = await rejection(client.invoke('Vault', 'read', {}, { metadata: { authorization: 'Basic YWxpY2U6cHc=' } }));
    expect(basic.message).toContain("credentials of scheme 'basic' are not accepted here; use Bearer");
    const bare = await rejection(client.invoke('Vault', 'read', {}, { metadata: { authorization: 'Bearer' } }));
    expect(bare.message).toContain("is not '<scheme> <credentials>'");
    expect(setup.service.runs).toBe(0);
  });

  it('accepts a good token, and the handler sees the principal with its typed claims', async () => {
    setup = await vaultServer([authenticate({ verifiers: strict() })]);
    const jwt = await good({ sub: 'bob', claims: { roles: ['reader'], tenant: 't-42' } });
    const client = setup.client([bearerToken(jwt)]);
    expect(await client.invoke('Vault', 'read', {})).toEqual({ ok: true });
    expect(await client.invoke('Vault', 'whoami', {})).toEqual({ subject: 'bob', roles: ['reader'], scheme: 'bearer', tenant: 't-42' });
    expect(setup.service.runs).toBe(2);
  });

  it('tolerates clock skew up to clockToleranceSec', async () => {
    setup = await vaultServer([authenticate({ verifiers: jwtVerifier({ secret: SECRET, clockToleranceSec: 30 }) })]);
    const client = setup.client();
    const justExpired = await token({ expiresIn: -10 });
    expect(await client.invoke('Vault', 'read', {}, { metadata: { authorization: `Bearer ${justExpired}` } })).toEqual({ ok: true });
    const longExpired = await token({ expiresIn: -60 });
    expect((await rejection(client.invoke('Vault', 'read', {}, { metadata: { authorization: `Bearer ${longExpired}` } }))).message).toContain('expired');
  });

  it('checks @Method({ roles }): PERMISSION_DENIED naming the roles, no handler run; a holder of one role passes', async () => {
    setup = await vaultServer([authenticate({ verifiers: strict() })]);
    const reader = setup.client([bearerToken(await good({ sub: 'rita', claims: { roles: ['reader'] } }))]);
    const error = await rejection(reader.invoke('Vault', 'wipe', {}));
    expect(error.code).toBe('PERMISSION_DENIED');
    expect(error.message).toBe("Vault.wipe needs one of the roles admin, ops; 'rita' has none of them");
    expect(error.progress).toBe('refused');
    expect(error.retryable).toBe(false);
    expect(setup.service.runs).toBe(0);
    const ops = setup.client([bearerToken(await good({ sub: 'otto', claims: { roles: ['ops'] } }))]);
    expect(await ops.invoke('Vault', 'wipe', {})).toEqual({ wiped: true });
    expect(setup.service.runs).toBe(1);
  });

  it('reads roles from a dotted claim path, from a scope string, or with a function; roles settings override @Method', async () => {
    setup = await vaultServer([
      authenticate({ verifiers: jwtVerifier({ secret: SECRET, rolesClaim: 'realm_access.roles' }), roles: (_s, method) => (method === 'read' ? ['auditor'] : undefined) }),
    ]);
    const auditor = setup.client([bearerToken(await token({ claims: { realm_access: { roles: ['auditor'] } } }))]);
    expect(await auditor.invoke('Vault', 'read', {})).toEqual({ ok: true });
    expect(await auditor.invoke('Vault', 'wipe', {})).toEqual({ wiped: true }); // roles from the settings: none for wipe
    const nobody = setup.client([bearerToken(await token({ claims: {} }))]);
    expect((await rejection(nobody.invoke('Vault', 'read', {}))).code).toBe('PERMISSION_DENIED');
    await setup.close();

    setup = await vaultServer([authenticate({ verifiers: jwtVerifier({ secret: SECRET, rolesClaim: 'scope' }) })]);
    const scoped = setup.client([bearerToken(await token({ claims: { scope: 'read ops' } }))]);
    expect(await scoped.invoke('Vault', 'wipe', {})).toEqual({ wiped: true });
    await setup.close();

    setup = await vaultServer([authenticate({ verifiers: jwtVerifier({ secret: SECRET, rolesClaim: (claims) => (claims.admin === true ? ['admin'] : []) }) })]);
    const admin = setup.client([bearerToken(await token({ claims: { admin: true } }))]);
    expect(await admin.invoke('Vault', 'whoami', {})).toMatchObject({ roles: ['admin'] });
    expect(await admin.invoke('Vault', 'wipe', {})).toEqual({ wiped: true });
  });

  it('a policy function decides last: false is PERMISSION_DENIED with no handler run, and it may be async', async () => {
    const seen: string[] = [];
    setup = await vaultServer([
      authenticate({
        verifiers: strict(),
        policy: async (principal, call) => {
          seen.push(`${principal.subject}:${call.method}`);
          return principal.claims.tenant === 'acme';
        },
      }),
    ]);
    const outsider = setup.client([bearerToken(await good({ sub: 'eve', claims: { tenant: 'other' } }))]);
    const error = await rejection(outsider.invoke('Vault', 'read', {}));
    expect(error.code).toBe('PERMISSION_DENIED');
    expect(error.message).toContain("Vault.read is not allowed for 'eve'");
    expect(setup.service.runs).toBe(0);
    const insider = setup.client([bearerToken(await good({ sub: 'ann', claims: { tenant: 'acme' } }))]);
    expect(await insider.invoke('Vault', 'read', {})).toEqual({ ok: true });
    expect(seen).toEqual(['eve:read', 'ann:read']);
  });

  it('anonymous methods are open without credentials, but credentials sent to them are still checked', async () => {
    setup = await vaultServer([authenticate({ verifiers: strict(), anonymous: (_s, method) => method === 'status' || method === 'whoami' })]);
    const client = setup.client();
    expect(await client.invoke('Vault', 'status', {})).toEqual({ up: true });
    expect(await client.invoke('Vault', 'whoami', {})).toEqual({});
    expect((await rejection(client.invoke('Vault', 'read', {}))).code).toBe('UNAUTHENTICATED');
    const expired = await good({ expiresIn: -60 });
    expect((await rejection(client.invoke('Vault', 'status', {}, { metadata: { authorization: `Bearer ${expired}` } }))).code).toBe('UNAUTHENTICATED');
    expect(await client.invoke('Vault', 'whoami', {}, { metadata: { authorization: `Bearer ${await good({ sub: 'zed' })}` } })).toMatchObject({ subject: 'zed' });
  });

  it('an unknown method is refused as UNAUTHENTICATED without credentials (the caller learns nothing of the methods)', async () => {
    setup = await vaultServer([authenticate({ verifiers: strict() })]);
    expect((await rejection(setup.client().invoke('Vault', 'nope', {}))).code).toBe('UNAUTHENTICATED');
    expect((await rejection(setup.client([bearerToken(await good())]).invoke('Vault', 'nope', {}))).code).toBe('UNIMPLEMENTED');
  });

  it('health checks pass without a token on a server that requires one', async () => {
    setup = await vaultServer([authenticate({ verifiers: strict() })]);
    const client = setup.client();
    expect(await checkHealth(client, setup.address)).toBe('SERVING');
    expect(await checkHealth(client, setup.address, 'Vault')).toBe('SERVING');
    expect((await rejection(client.invoke('Vault', 'read', {}))).code).toBe('UNAUTHENTICATED');
  });
});

describe('authenticate with public keys', () => {
  it.each(['RS256', 'EdDSA', 'ES256'] as const)('accepts %s tokens given the key as CryptoKey, PEM and JWK; refuses another key pair', async (alg) => {
    const { publicKey, privateKey } = await keyPair(alg);
    const stranger = await keyPair(alg);
    const pem = await exportSPKI(publicKey);
    const jwk = await exportJWK(publicKey);
    for (const key of [publicKey, pem, jwk]) {
      setup = await vaultServer([authenticate({ verifiers: jwtVerifier({ publicKey: key, audience: 'vault' }) })]);
      const jwt = await token({ alg, audience: 'vault', sub: `${alg}-user` }, privateKey);
      expect(await setup.client([bearerToken(jwt)]).invoke('Vault', 'whoami', {})).toMatchObject({ subject: `${alg}-user` });
      const forged = await token({ alg, audience: 'vault' }, stranger.privateKey);
      expect((await rejection(setup.client([bearerToken(forged)]).invoke('Vault', 'read', {}))).message).toContain('signature does not verify');
      await setup.close();
      setup = undefined;
    }
  });

  it('refuses an HS256 token made with the public key as secret (alg confusion) and a token of another algorithm', async () => {
    const { publicKey, privateKey } = await keyPair('RS256');
    const pem = await exportSPKI(publicKey);
    setup = await vaultServer([authenticate({ verifiers: jwtVerifier({ publicKey: pem }) })]);
    const confused = await token({ alg: 'HS256' }, new TextEncoder().encode(pem));
    expect((await rejection(setup.client([bearerToken(confused)]).invoke('Vault', 'read', {}))).message).toContain("tokens signed with 'HS256' are not accepted here; this server takes RS256, RS384, RS512");
    const ed = await keyPair('EdDSA');
    const other = await token({ alg: 'EdDSA' }, ed.privateKey);
    expect((await rejection(setup.client([bearerToken(other)]).invoke('Vault', 'read', {}))).message).toContain("'EdDSA' are not accepted");
    expect(await setup.client([bearerToken(await token({ alg: 'RS256' }, privateKey))]).invoke('Vault', 'read', {})).toEqual({ ok: true });
    expect(setup.service.runs).toBe(1);
  });

  it('keys: picks the key by kid among several (a rotation), and tries each for a token without kid', async () => {
    const a = await keyPair('EdDSA');
    const b = await keyPair('EdDSA');
    const keys = [{ ...(await exportJWK(a.publicKey)), kid: 'a' }, { ...(await exportJWK(b.publicKey)), kid: 'b' }];
    setup = await vaultServer([authenticate({ verifiers: jwtVerifier({ keys }) })]);
    expect(await setup.client([bearerToken(await token({ alg: 'EdDSA', kid: 'b', sub: 'by-b' }, b.privateKey))]).invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'by-b' });
    expect(await setup.client([bearerToken(await token({ alg: 'EdDSA', sub: 'no-kid' }, b.privateKey))]).invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'no-kid' });
    const unknown = await rejection(setup.client([bearerToken(await token({ alg: 'EdDSA', kid: 'c' }, a.privateKey))]).invoke('Vault', 'read', {}));
    expect(unknown.message).toContain("no key of this server has kid 'c'");
    const wrong = await rejection(setup.client([bearerToken(await token({ alg: 'EdDSA', kid: 'a' }, b.privateKey))]).invoke('Vault', 'read', {}));
    expect(wrong.message).toContain('signature does not verify');
  });

  it('two verifiers for Bearer (two issuers): the first that accepts wins, else the first refusal', async () => {
    const { publicKey, privateKey } = await keyPair('ES256');
    setup = await vaultServer([authenticate({ verifiers: [jwtVerifier({ secret: SECRET, issuer: 'internal' }), jwtVerifier({ publicKey, issuer: 'partner' })] })]);
    expect(await setup.client([bearerToken(await token({ issuer: 'internal', sub: 'i' }))]).invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'i' });
    expect(await setup.client([bearerToken(await token({ alg: 'ES256', issuer: 'partner', sub: 'p' }, privateKey))]).invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'p' });
    const neither = await rejection(setup.client([bearerToken(await token({ issuer: 'partner' }, secretBytes))]).invoke('Vault', 'read', {}));
    expect(neither.message).toContain('issuer');
  });
});
