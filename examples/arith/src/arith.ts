import { Method, RpcError, Service, type CallContext } from '@svc/core';

export interface ArithArgs {
  a: number;
  b: number;
}

export interface ArithReply {
  c: number;
}

export interface WaitArgs {
  ms: number;
}

/** The classic: a service is a plain class, its methods plain async functions. */
@Service('Arith', { version: '1.0.0' })
export class Arith {
  @Method({ idempotent: true })
  async mul(args: ArithArgs, ctx: CallContext): Promise<ArithReply> {
    // Metadata back to the caller, next to the result.
    ctx.sendMetadata({ server: `arith@${process.pid}`, tenant: ctx.metadata.tenant ?? 'none' });
    return { c: args.a * args.b };
  }

  @Method({ idempotent: true })
  async add(args: ArithArgs): Promise<ArithReply> {
    return { c: args.a + args.b };
  }

  @Method({ idempotent: true })
  async div(args: ArithArgs): Promise<ArithReply> {
    if (args.b === 0) throw new RpcError('INVALID_ARGUMENT', 'b must not be zero: division by zero is undefined', { details: { field: 'b' } });
    return { c: args.a / args.b };
  }

  /** Takes `ms` to answer, unless the caller gives up first: the handler's signal says so. */
  @Method({ timeout: 5_000 })
  async wait(args: WaitArgs, ctx: CallContext): Promise<{ waited: number }> {
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, args.ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        console.log(`[server] wait(${args.ms}) aborted after ${Date.now() - started} ms: ${(ctx.signal.reason as RpcError).code}`);
        resolve();
      });
    });
    return { waited: Date.now() - started };
  }
}
