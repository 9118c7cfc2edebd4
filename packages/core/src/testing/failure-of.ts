import type { RpcError } from '../errors/rpc-error.js';

/** The error that `run` (or a promise) fails with; a test fails when it does not fail. */
export async function failureOf(run: (() => Promise<unknown>) | Promise<unknown>): Promise<RpcError> {
  try {
    await (typeof run === 'function' ? run() : run);
  } catch (error) {
    return error as RpcError;
  }
  throw new Error('expected a failure, but it succeeded');
}
