import type { FieldType, ScalarName } from '@svc/core';
import type { CodegenWarning } from '../errors.js';

/**
 * The schema model before field numbers are assigned: what the reader found in the code, in
 * declaration order. `assignNumbers` turns it into a ServiceSchema using the lock file.
 */

export interface DraftField {
  readonly name: string;
  readonly type: FieldType;
  readonly optional?: boolean;
  readonly nullable?: boolean;
  /** Variant of a discriminated union: the discriminant value. */
  readonly tag?: string | number | boolean;
}

export interface DraftMessage {
  readonly name: string;
  fields: DraftField[];
  discriminant?: string;
  /** `src/arith.ts:12`, relative to the project root. */
  readonly source: string;
}

export interface DraftEnumValue {
  readonly name: string;
  readonly value: string | number;
  /** Numeric TS enums and number-literal unions keep their own numbers on the wire. */
  readonly fixed?: number;
}

export interface DraftEnum {
  readonly name: string;
  readonly values: DraftEnumValue[];
  readonly source: string;
}

/** How the typed client spells a request or response type. */
export type TsTypeRef =
  | { readonly kind: 'named'; readonly name: string; readonly file: string }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'param' }
  | { readonly kind: 'result' }
  | { readonly kind: 'none' };

export interface DraftMethod {
  /** Name on the wire. */
  readonly name: string;
  /** Property of the class. */
  readonly property: string;
  readonly request: string | null;
  readonly response: string | null;
  readonly requestWrapped: boolean;
  readonly responseWrapped: boolean;
  /** Name of the handler's first parameter, for the client signature. */
  readonly paramName: string;
  readonly requestTs: TsTypeRef;
  readonly responseTs: TsTypeRef;
  /** `@Method({ idempotent: true })`; absent unless true. */
  readonly idempotent?: boolean;
  /** `@Method({ timeout })` in ms, when svc-gen could evaluate it to a positive finite number. */
  readonly timeout?: number;
  readonly source: string;
}

/** A `@Subscribe(topic)` method: the payload (its first parameter) travels as a message. */
export interface DraftEvent {
  /** The literal topic. */
  readonly topic: string;
  /** Property of the class (the handler). */
  readonly property: string;
  /** Payload message; null when the handler takes no payload. */
  readonly message: string | null;
  readonly wrapped: boolean;
  /** How the typed publisher spells the payload type. */
  readonly payloadTs: TsTypeRef;
  /** `src/inventory.ts:12:3` */
  readonly source: string;
}

export interface DraftService {
  readonly name: string;
  readonly package: string;
  readonly className: string;
  /** Absolute path of the file declaring the class. */
  readonly file: string;
  readonly classExported: boolean;
  readonly version?: string;
  readonly methods: DraftMethod[];
  /** One entry per topic its @Subscribe methods take (handlers of one topic share it). */
  readonly events: DraftEvent[];
  readonly messages: DraftMessage[];
  readonly enums: DraftEnum[];
  /** What svc-gen read but left out (a timeout it cannot evaluate); generation goes on. */
  readonly warnings: readonly CodegenWarning[];
  /** Absolute paths of every file whose types this service uses (for --watch). */
  readonly dependencies: Set<string>;
  readonly source: string;
}

export const SCALARS: readonly ScalarName[] = [
  'double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32',
  'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'bool', 'string', 'bytes',
];
export const NUMBER_WIDTHS = new Set<ScalarName>(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
export const BIGINT_WIDTHS = new Set<ScalarName>(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
