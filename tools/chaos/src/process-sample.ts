/** What one process reports about itself when sampled: memory and live handles. */

export interface ProcessSample {
  /** Resident set size, bytes. */
  rss: number;
  /** V8 heap in use, bytes (after a full GC when the process runs with --expose-gc). */
  heapUsed: number;
  /** V8 heap reserved, bytes: young-generation resizing shows here (and in RSS), not in heapUsed. */
  heapTotal: number;
  /** Memory of Buffers and other objects outside the V8 heap, bytes. */
  external: number;
  /** Active handles and requests (process.getActiveResourcesInfo()), total. */
  handles: number;
  /** The same, by kind ('TCPSocketWrap', 'Timeout', ...), to see what grew. */
  handlesByKind: Record<string, number>;
}

export function sampleThisProcess(): ProcessSample {
  // A full GC first, when allowed: heap figures then show what is retained, not what is garbage.
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  const resources = process.getActiveResourcesInfo();
  const handlesByKind: Record<string, number> = {};
  for (const kind of resources) handlesByKind[kind] = (handlesByKind[kind] ?? 0) + 1;
  return { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external, handles: resources.length, handlesByKind };
}
