import { describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, staticRegistry, inproc, type CallContext } from '../src/index.js';

@Service('Arith')
class Arith {
  @Method()
  async mul(args: { a: number; b: number }, ctx: CallContext): Promise<{ c: number }> {
    ctx.sendMetadata({ server: 'hi' });
    return { c: args.a * args.b };
  }
  @Method()
  async div(args: { a: number; b: number }): Promise<{ c: number }> {
    if (args.b === 0) throw new RpcError('INVALID_ARGUMENT', 'divide by zero');
    return { c: args.a / args.b };
  }
}

describe('smoke', () => {
  it('calls over inproc', async () => {
    const t = inproc();
    const server = new Server({ transport: t }).register(new Arith());
    await server.listen('inproc://arith');
    const client = new Client({ transport: t, registry: staticRegistry({ Arith: ['inproc://arith'] }) });
    let md: unknown;
    expect(await client.invoke('Arith', 'mul', { a: 6, b: 7 }, { onMetadata: (m) => (md = m) })).toEqual({ c: 42 });
    expect(md).toEqual({ server: 'hi' });
    await expect(client.invoke('Arith', 'div', { a: 1, b: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'divide by zero' });
    await client.close();
    await server.close();
  });
});
