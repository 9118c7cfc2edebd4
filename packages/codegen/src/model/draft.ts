import type { FieldType, ScalarName, StreamShape } from '@svc/core';
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
  /** The element of a client stream's parameter (`AsyncIterable<C>`), through the class. */
  | { readonly kind: 'paramElement' }
  /** The element of a stream handler's result (`AsyncGenerator<E>`), through the class. */
  | { readonly kind: 'resultElement' }
  | { readonly kind: 'none' };

export interface DraftMethod {
  /** Name on the wire. */
  readonly name: string;
  /** Property of the class. */
  readonly property: string;
  /** Request message; of a client or bidi stream, the message of each element. */
  readonly request: string | null;
  /** Response message; of a server or bidi stream, the message of each element. */
  readonly response: string | null;
  readonly requestWrapped: boolean;
  readonly responseWrapped: boolean;
  /** Name of the handler's first parameter, for the client signature. */
  readonly paramName: string;
  /** Of a client or bidi stream: the element type. */
  readonly requestTs: TsTypeRef;
  /** Of a server or bidi stream: the element type. */
  readonly responseTs: TsTypeRef;
  /**
   * The stream shape read from the types (docs/streams.md): a first parameter typed
   * `AsyncIterable<C>` streams the request, a result `AsyncIterable<E>` (`AsyncGenerator<E>`,
   * `AsyncIterableIterator<E>`, an `async *` method) the response. Absent for unary methods.
   */
  readonly stream?: StreamShape;
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

/** Wire method name → stream shape, for the emitters (core's MethodSchema has no field for it). */
export function streamShapes(draft: DraftService): Record<string, StreamShape> {
  const shapes: Record<string, StreamShape> = {};
  for (const m of draft.methods) if (m.stream) shapes[m.name] = m.stream;
  return shapes;
}

export const SCALARS: readonly ScalarName[] = [
  'double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32',
  'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'bool', 'string', 'bytes',
];
export const NUMBER_WIDTHS = new Set<ScalarName>(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
export const BIGINT_WIDTHS = new Set<ScalarName>(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
