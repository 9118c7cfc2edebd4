import { apiKeyVerifier } from '../src/api-key-verifier.js';
import { jwtVerifier } from '../src/jwt-verifier.js';
import { describeVerifierContract } from './helpers/auth-verifier-contract.js';
import { keyPair, SECRET, token } from './helpers/auth-tokens.js';

const bearer = (value: string) => ({ scheme: 'bearer', value });
const apikey = (value: string) => ({ scheme: 'apikey', value });

describeVerifierContract('jwtVerifier (HS256)', {
  make: () => jwtVerifier({ secret: SECRET, audience: 'vault' }),
  good: async () => bearer(await token({ audience: 'vault' })),
  bad: async () => [bearer(await token({ audience: 'other' })), bearer(await token({ audience: 'vault', expiresIn: -60 })), bearer('garbage')],
});

const ed = await keyPair('EdDSA');
describeVerifierContract('jwtVerifier (EdDSA)', {
  make: () => jwtVerifier({ publicKey: ed.publicKey }),
  good: async () => bearer(await token({ alg: 'EdDSA' }, ed.privateKey)),
  bad: async () => [bearer(await token({ alg: 'EdDSA' }, (await keyPair('EdDSA')).privateKey)), bearer(await token())],
});

describeVerifierContract('apiKeyVerifier (listed keys)', {
  make: () => apiKeyVerifier({ keys: { sk_live_0123456789abcdef: { subject: 'k', roles: ['ops'] } } }),
  good: async () => apikey('sk_live_0123456789abcdef'),
  bad: async () => [apikey('sk_live_0123456789abcdeX'), apikey('')],
});

describeVerifierContract('apiKeyVerifier (lookup)', {
  make: () => apiKeyVerifier({ keys: async (key) => (key === 'known-key' ? { subject: 'db', roles: [], scheme: 'apikey', claims: {} } : undefined) }),
  good: async () => apikey('known-key'),
  bad: async () => [apikey('unknown-key')],
});
