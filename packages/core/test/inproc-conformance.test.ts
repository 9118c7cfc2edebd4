import { describe, expect, it } from 'vitest';
import { RpcError, Server, inproc, silentLogger } from '../src/index.js';
import { describeTransportConformance } from '../src/testing/index.js';

describeTransportConformance('inproc', async () => ({ transport: inproc(), listenAddress: 'inproc://conformance' }));

describe('inproc addresses', () => {
  it('refuses a second listener on one address with ALREADY_EXISTS', async () => {
    const t = inproc();
    const first = new Server({ transport: t, logger: silentLogger });
    await first.listen('inproc://taken');
    const error = await new Server({ transport: t, logger: silentLogger }).listen('inproc://taken').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: 'ALREADY_EXISTS', message: expect.stringContaining('inproc://taken') });
    await first.close();
    // Once the first has closed, the address is free again.
    const second = new Server({ transport: t, logger: silentLogger });
    await expect(second.listen('inproc://taken')).resolves.toBe('inproc://taken');
    await second.close();
  });
});
