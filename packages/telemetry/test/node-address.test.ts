import { describe, expect, it } from 'vitest';
import { parseServerAddress } from '../src/node-address.js';

describe('server.address and server.port of an address', () => {
  it.each([
    ['tcp://10.0.0.5:8972', '10.0.0.5', 8972],
    ['10.0.0.5:8972', '10.0.0.5', 8972],
    ['tls://shop.internal:443', 'shop.internal', 443],
    ['tcp://[::1]:8972', '::1', 8972],
    ['nats://127.0.0.1:4222?instance=abc', '127.0.0.1', 4222],
    ['unix:///run/svc.sock', '/run/svc.sock', undefined],
    ['nats://a:4222,b:4222', 'nats://a:4222,b:4222', undefined],
    ['inproc://shop', 'inproc://shop', undefined],
  ])('%s', (target, address, port) => {
    expect(parseServerAddress(target)).toEqual({ address, port });
  });
});
