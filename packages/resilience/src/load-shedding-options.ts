import { invalidPolicy } from './resilience-errors.js';
import { describe as describeValue } from './describe-value.js';

/** When a server refuses new calls to keep the ones it takes fast (see loadShedder). */
export interface SheddingOptions {
  /** Smoothed event-loop delay above which calls are shed, in ms (default 10). */
  targetDelayMs?: number;
  /** How often the event loop's delay is sampled, in ms (default 10). */
  sampleIntervalMs?: number;
  /** Time constant of the smoothing of the delay, in ms (default 50): longer is calmer, shorter reacts faster. */
  smoothingMs?: number;
  /**
   * The share of calls shed at most, however late the loop (default 0.95): a few always pass, so
   * clients keep learning the server's state and a wrong reading cannot refuse everything.
   */
  maxShedShare?: number;
  /**
   * Calls at most running at once behind the shedder (default: no limit). For handlers that wait
   * (a database, a downstream call) rather than compute: their overload does not delay the loop.
   */
  maxInFlight?: number;
  /** What a refusal tells the client to stay away for (svc-retry-pushback-ms), in ms (default 100). */
  pushbackMs?: number;
}

export interface SheddingSettings {
  readonly targetDelayMs: number;
  readonly sampleIntervalMs: number;
  readonly smoothingMs: number;
  readonly maxShedShare: number;
  /** 0: no limit. */
  readonly maxInFlight: number;
  readonly pushbackMs: number;
}

const DEFAULTS: SheddingSettings = { targetDelayMs: 10, sampleIntervalMs: 10, smoothingMs: 50, maxShedShare: 0.95, maxInFlight: 0, pushbackMs: 100 };
const KEYS = Object.keys(DEFAULTS);

/** Checks the options (an unknown key, a value out of range: refused naming it) and fills in the defaults. */
export function sheddingSettings(options: SheddingOptions = {}): SheddingSettings {
  const path = 'loadShedder';
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidPolicy(path, `expected an options object, got ${describeValue(options)}`);
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key)) throw invalidPolicy(`${path}.${key}`, `unknown option; the load shedder takes ${KEYS.join(', ')}`);
  }
  const settings = { ...DEFAULTS, ...definedOnly(options) } as SheddingSettings;
  positive(path, 'targetDelayMs', settings.targetDelayMs);
  positive(path, 'sampleIntervalMs', settings.sampleIntervalMs);
  positive(path, 'smoothingMs', settings.smoothingMs);
  const { maxShedShare, maxInFlight, pushbackMs } = settings;
  if (!(typeof maxShedShare === 'number' && maxShedShare > 0 && maxShedShare <= 1)) throw invalidPolicy(`${path}.maxShedShare`, `must be a share above 0 and at most 1, got ${describeValue(maxShedShare)}`);
  if (!(Number.isInteger(maxInFlight) && maxInFlight >= 0)) throw invalidPolicy(`${path}.maxInFlight`, `must be an integer of at least 1 (or 0: no limit), got ${describeValue(maxInFlight)}`);
  if (!(typeof pushbackMs === 'number' && Number.isFinite(pushbackMs) && pushbackMs >= 0)) throw invalidPolicy(`${path}.pushbackMs`, `must be a number of ms of at least 0, got ${describeValue(pushbackMs)}`);
  return settings;
}

function positive(path: string, key: string, value: unknown): void {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) throw invalidPolicy(`${path}.${key}`, `must be a number of ms above 0, got ${describeValue(value)}`);
}

function definedOnly(options: object): object {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}
