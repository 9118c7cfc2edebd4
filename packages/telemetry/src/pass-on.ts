import type { Next } from '@svc/core';

/**
 * next() as a filter's result, from a filter that is not async (a call it neither records nor
 * measures): a synchronous throw becomes a rejection, as an async filter's would.
 */
export function passOn(next: Next): Promise<unknown> {
  try {
    return next();
  } catch (error) {
    return Promise.reject(error);
  }
}
