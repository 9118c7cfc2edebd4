import { createHook } from 'node:async_hooks';

/** The frame that called setTimeout or setInterval, in a stack taken while a Timeout is made. */
function callerOf(stack: string): string {
  const lines = stack.split('\n');
  const at = lines.findIndex((line) => /at set(Timeout|Interval) \(node:timers/.test(line));
  return at >= 0 ? (lines[at + 1] ?? '') : '';
}

/**
 * Counts the timers alive now that were made by code matching `origin` (the frame that called
 * setTimeout or setInterval), unref'd ones too: process.getActiveResourcesInfo() lists only
 * timers that keep the process alive, and opossum unrefs its own. A test tool: it captures a
 * stack for every timer made while it runs.
 */
export function timerCounter(origin: RegExp): { readonly live: number; readonly holdingProcess: number; settled(): Promise<number>; stop(): void } {
  const alive = new Map<number, NodeJS.Timeout>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type === 'Timeout' && origin.test(callerOf(new Error().stack ?? ''))) alive.set(id, resource as NodeJS.Timeout);
    },
    destroy(id) {
      alive.delete(id);
    },
  });
  hook.enable();
  return {
    get live() {
      return alive.size;
    },
    /** Those of them not unref'd: they would keep the process from exiting. */
    get holdingProcess() {
      let count = 0;
      for (const timer of alive.values()) if (timer.hasRef()) count++;
      return count;
    },
    /** `live` once the destroy hooks of timers just cleared have run (Node emits them a moment later). */
    async settled() {
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      return alive.size;
    },
    stop() {
      hook.disable();
    },
  };
}

/** Timers made by opossum or this package's breaker files. */
export const BREAKER_TIMERS = /opossum[\\/]lib|[\\/]src[\\/](breaker-[a-z-]+|circuit-breakers)\.[jt]s/;
