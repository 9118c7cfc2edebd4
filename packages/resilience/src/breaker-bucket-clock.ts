import { EventEmitter } from 'node:events';

/** One interval and the emitter its breakers listen on (opossum's `rotateBucketController`). */
interface Rotation {
  readonly emitter: EventEmitter;
  readonly timer: ReturnType<typeof setInterval>;
  users: number;
}

function rotate(clock: BucketClock, emitter: EventEmitter): void {
  clock.ticks++;
  emitter.emit('rotate');
}

/**
 * Slides the rolling windows of many breakers with one timer. Left alone, opossum gives each
 * breaker an interval of its own to rotate its buckets (and another for snapshots, which the
 * breakers here turn off): 1,000 breakers, 2,000 timers. Here breakers whose buckets have the
 * same length share one emitter and one unref'd interval, made when the first of them is made and
 * cleared when the last is shut down; usually every breaker has the same length, so one timer.
 */
export class BucketClock {
  private readonly rotations = new Map<number, Rotation>();
  /** Rotations so far, of any length: what breakers are touched by in the LRU at most once per. */
  ticks = 0;

  /** The emitter to pass as `rotateBucketController` to a breaker with buckets of `bucketMs`; pair with release. */
  acquire(bucketMs: number): EventEmitter {
    let rotation = this.rotations.get(bucketMs);
    if (rotation === undefined) {
      const emitter = new EventEmitter();
      // One listener per breaker: 1,000 is normal here, not a leak.
      emitter.setMaxListeners(0);
      const timer = setInterval(rotate, bucketMs, this, emitter);
      timer.unref();
      rotation = { emitter, timer, users: 0 };
      this.rotations.set(bucketMs, rotation);
    }
    rotation.users++;
    return rotation.emitter;
  }

  /** A breaker with buckets of `bucketMs` was shut down (it removed its listener). */
  release(bucketMs: number): void {
    const rotation = this.rotations.get(bucketMs);
    if (rotation === undefined) return;
    if (--rotation.users > 0) return;
    clearInterval(rotation.timer);
    this.rotations.delete(bucketMs);
  }

  /** Intervals running now. */
  get timers(): number {
    return this.rotations.size;
  }

  close(): void {
    for (const rotation of this.rotations.values()) clearInterval(rotation.timer);
    this.rotations.clear();
  }
}
