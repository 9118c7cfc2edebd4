/**
 * Number widths for the wire. A plain `number` travels as a protobuf double; annotate a field with
 * one of these to make svc-gen pick an integer or float type instead. They are plain numbers (or
 * bigints) at runtime and in the type checker: the optional brand only names the wire type.
 *
 *   interface Page { index: int32; size: uint32; total: int64 }
 */
declare const wireType: unique symbol;
type Wire<T, Name extends string> = T & { readonly [wireType]?: Name };

export type int32 = Wire<number, 'int32'>;
export type uint32 = Wire<number, 'uint32'>;
export type sint32 = Wire<number, 'sint32'>;
export type fixed32 = Wire<number, 'fixed32'>;
export type sfixed32 = Wire<number, 'sfixed32'>;
export type float = Wire<number, 'float'>;
export type double = Wire<number, 'double'>;
export type int64 = Wire<bigint, 'int64'>;
export type uint64 = Wire<bigint, 'uint64'>;
export type sint64 = Wire<bigint, 'sint64'>;
export type fixed64 = Wire<bigint, 'fixed64'>;
export type sfixed64 = Wire<bigint, 'sfixed64'>;
