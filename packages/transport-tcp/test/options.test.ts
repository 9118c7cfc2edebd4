import { expect, it } from 'vitest';
import { RpcError } from '@svc/core';
import { tcp } from '../src/index.js';
import { parseAddress } from '../src/address.js';

// Issue 12, item 14: bad addresses and options are catalogued errors, not plain TypeErrors.
it('refuses a limit that is not a positive number, with INVALID_ARGUMENT naming it', () => {
  for (const bad of [0, -1, Number.NaN]) {
    const error = (() => {
      try {
        tcp({ maxConcurrentCalls: bad });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/maxConcurrentCalls must be a positive number/) });
  }
  expect(() => tcp({ frameTimeout: Infinity, maxConnections: 1 })).not.toThrow();
  expect(() => tcp({ heartbeat: { interval: 10, timeout: 5 } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
});

it('refuses an address it cannot parse with INVALID_ARGUMENT', () => {
  for (const [address, text] of [
    ['unix://', /no socket path/],
    ['http://h:1', /scheme 'http'/],
    ['tcp://nohost', /is not host:port/],
    ['tcp://h:70000', /port 70000, out of range/],
  ] as const) {
    expect(() => parseAddress(address)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(text) }));
  }
});
