/**
 * Call metadata: string keys to string values, sent in the frame header. Request metadata goes
 * from caller to handler, response metadata from handler (`ctx.sendMetadata`) back to the caller.
 */
export type Metadata = Record<string, string>;

export function mergeMetadata(into: Metadata | undefined, from: Metadata): Metadata {
  if (into === undefined) return { ...from };
  for (const key in from) into[key] = from[key]!;
  return into;
}
