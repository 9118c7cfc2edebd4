import { createHash } from 'node:crypto';
import { nkeys } from 'nats';

/**
 * Just enough of NATS's decentralised auth for a test: an operator, an account and a user, as
 * signed JWTs (ed25519 NKeys), a server config that trusts them, and a user .creds file.
 */
type KeyPair = ReturnType<typeof nkeys.createUser>;

const b64url = (data: Uint8Array | string): string => Buffer.from(data).toString('base64url');

function jwt(issuer: KeyPair, subject: string, name: string, nats: object): string {
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const claims: Record<string, unknown> = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  claims.jti = createHash('sha256').update(JSON.stringify(claims)).digest('base64url').toUpperCase();
  const payload = b64url(JSON.stringify(claims));
  return `${header}.${payload}.${b64url(issuer.sign(new TextEncoder().encode(`${header}.${payload}`)))}`;
}

export function decentralisedAuth(): { serverConfig: string; creds: string; strangerCreds: string } {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const unlimited = { subs: -1, data: -1, payload: -1 };
  const operatorJwt = jwt(operator, operator.getPublicKey(), 'svc-test-operator', { type: 'operator' });
  const accountJwt = jwt(operator, account.getPublicKey(), 'svc-test-account', {
    type: 'account',
    limits: { ...unlimited, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
  });
  const credsFor = (signer: KeyPair): string => {
    const user = nkeys.createUser();
    const userJwt = jwt(signer, user.getPublicKey(), 'svc-test-user', { type: 'user', pub: {}, sub: {}, ...unlimited });
    const seed = new TextDecoder().decode(user.getSeed());
    return `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
  };
  // JetStream needs a system account in operator mode.
  const system = nkeys.createAccount();
  const systemJwt = jwt(operator, system.getPublicKey(), 'SYS', { type: 'account', limits: { ...unlimited, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 } });
  return {
    serverConfig:
      `operator: ${operatorJwt}\nsystem_account: ${system.getPublicKey()}\nresolver: MEMORY\n` +
      `resolver_preload: {\n  ${account.getPublicKey()}: ${accountJwt}\n  ${system.getPublicKey()}: ${systemJwt}\n}\n`,
    creds: credsFor(account),
    // Signed by an account the server does not know.
    strangerCreds: credsFor(nkeys.createAccount()),
  };
}
