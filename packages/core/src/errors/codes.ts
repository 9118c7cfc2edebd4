/**
 * The closed set of status codes: gRPC's names and numbers, so that @svc errors map one to one
 * onto every gRPC-speaking system. The number travels on the wire; the name is what code reads.
 */
export const Code = {
  CANCELLED: 'CANCELLED',
  UNKNOWN: 'UNKNOWN',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  FAILED_PRECONDITION: 'FAILED_PRECONDITION',
  ABORTED: 'ABORTED',
  OUT_OF_RANGE: 'OUT_OF_RANGE',
  UNIMPLEMENTED: 'UNIMPLEMENTED',
  INTERNAL: 'INTERNAL',
  UNAVAILABLE: 'UNAVAILABLE',
  DATA_LOSS: 'DATA_LOSS',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
} as const;

export type Code = (typeof Code)[keyof typeof Code];

/** Wire numbers, as in gRPC (0 is OK and is not an error code). */
export const CODE_NUMBERS: Readonly<Record<Code, number>> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

export const ALL_CODES: readonly Code[] = Object.keys(CODE_NUMBERS) as Code[];

const BY_NUMBER: Code[] = [];
for (const code of ALL_CODES) BY_NUMBER[CODE_NUMBERS[code]] = code;

/** The code for a wire number; numbers this version does not know become UNKNOWN. */
export function codeFromNumber(n: number): Code {
  return BY_NUMBER[n] ?? Code.UNKNOWN;
}

export function isCode(value: unknown): value is Code {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(CODE_NUMBERS, value);
}

/** Codes that mean "try again, maybe elsewhere": the call may be repeated safely if it is idempotent. */
const RETRYABLE: ReadonlySet<Code> = new Set<Code>([Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED, Code.ABORTED]);

export function isRetryableCode(code: Code): boolean {
  return RETRYABLE.has(code);
}
