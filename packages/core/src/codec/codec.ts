/**
 * A codec turns call values into body bytes and back. It is asked once per method for the
 * serializers of that method (schema-driven codecs like protobuf need the method's types); the
 * answer is cached, so per-call work is only the encode or decode itself.
 */
export interface Codec {
  /** The name that travels in the frame header ('json', 'protobuf', ...). */
  readonly name: string;
  /** The serializers of one method, or undefined when this codec cannot carry it. */
  forMethod(service: string, method: string): MethodSerializers | undefined;
}

/**
 * The bytes an encode returns are the caller's from then on: a transport may hold them until the
 * end of the tick (it writes a tick's frames together), so a codec never writes to them again.
 */
export interface MethodSerializers {
  encodeRequest(value: unknown): Uint8Array;
  decodeRequest(bytes: Uint8Array): unknown;
  encodeResponse(value: unknown): Uint8Array;
  decodeResponse(bytes: Uint8Array): unknown;
}
