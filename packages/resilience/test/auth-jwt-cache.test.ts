import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventContext } from '@svc/core';
import { jwtVerifier } from '../src/jwt-verifier.js';
import type { Principal } from '../src/principal.js';
import { SECRET, token } from './helpers/auth-tokens.js';

// The verifier ignores the call; a real Call of core's (an event context) stands for it.
const call = new EventContext('t', {}, 'Vault', 'read');
const bearer = (value: string) => ({ scheme: 'bearer', value });

afterEach(() => {
  vi.useRealTimers();
});

describe('jwtVerifier cache', () => {
  it('answers a repeated token from the cache (synchronously, the same principal) until its exp, then checks it again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const verifier = jwtVerifier({ secret: SECRET, clockToleranceSec: 5 });
    const jwt = await token({ expiresIn: 60, sub: 'cached' });

    const checked = verifier.verify(bearer(jwt), call);
    expect(checked).toBeInstanceOf(Promise); // the first time: a signature check
    const principal = await checked;
    const hit = verifier.verify(bearer(jwt), call);
    expect(hit).not.toBeInstanceOf(Promise); // then a map lookup
    expect(hit).toBe(principal);
    expect((hit as Principal).expiresAt).toBe(Date.parse('2026-01-01T00:01:00Z'));

    vi.setSystemTime(new Date('2026-01-01T00:00:59.999Z'));
    expect(verifier.verify(bearer(jwt), call)).toBe(principal);

    // At exp the entry is gone: jose checks again (and still takes it within the clock tolerance, uncached).
    vi.setSystemTime(new Date('2026-01-01T00:01:02Z'));
    const again = verifier.verify(bearer(jwt), call);
    expect(again).toBeInstanceOf(Promise);
    expect((await again).subject).toBe('cached');
    const uncached = verifier.verify(bearer(jwt), call);
    expect(uncached).toBeInstanceOf(Promise);
    await uncached;

    vi.setSystemTime(new Date('2026-01-01T00:01:10Z'));
    await expect(verifier.verify(bearer(jwt), call)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringContaining('expired') });
  });

  it('keeps at most cacheSize tokens (least recently used out); cacheSize 0 checks every time; a token without exp is not cached', async () => {
    const small = jwtVerifier({ secret: SECRET, cacheSize: 2 });
    const [t1, t2, t3] = await Promise.all([token({ sub: '1' }), token({ sub: '2' }), token({ sub: '3' })]);
    for (const t of [t1, t2, t3]) await small.verify(bearer(t!), call);
    expect(small.verify(bearer(t1!), call)).toBeInstanceOf(Promise); // evicted
    expect(small.verify(bearer(t3!), call)).not.toBeInstanceOf(Promise);

    const none = jwtVerifier({ secret: SECRET, cacheSize: 0 });
    await none.verify(bearer(t1!), call);
    expect(none.verify(bearer(t1!), call)).toBeInstanceOf(Promise);

    const forever = await token({ expiresIn: undefined, sub: 'no-exp' });
    const verifier = jwtVerifier({ secret: SECRET });
    expect((await verifier.verify(bearer(forever), call)).expiresAt).toBeUndefined();
    expect(verifier.verify(bearer(forever), call)).toBeInstanceOf(Promise);
  });

  it('a refused token is never cached: it is refused again', async () => {
    const verifier = jwtVerifier({ secret: SECRET, audience: 'vault' });
    const jwt = await token({ audience: 'other' });
    for (let i = 0; i < 2; i++) await expect(verifier.verify(bearer(jwt), call)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
