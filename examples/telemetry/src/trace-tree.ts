// Prints spans as the trees they form: each span under its parent, whichever process sent it.
import type { CollectedSpan } from './collector.js';

// OTLP's span kinds and status codes.
const KINDS = ['', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS = ['', '', 'ERROR'];

export function traceTrees(spans: readonly CollectedSpan[]): string {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const children = new Map<string, CollectedSpan[]>();
  const roots: CollectedSpan[] = [];
  for (const span of spans) {
    if (span.parentSpanId !== '' && byId.has(span.parentSpanId)) {
      const siblings = children.get(span.parentSpanId) ?? [];
      siblings.push(span);
      children.set(span.parentSpanId, siblings);
    } else {
      roots.push(span);
    }
  }
  const byStart = (a: CollectedSpan, b: CollectedSpan): number => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0);
  const lines: string[] = [];
  const print = (span: CollectedSpan, depth: number): void => {
    const ms = (Number(span.endNs - span.startNs) / 1e6).toFixed(2);
    const code = span.attributes['rpc.status_code'];
    const label = `${'  '.repeat(depth)}${span.name}`;
    lines.push(`${label.padEnd(40)} ${KINDS[span.kind]!.padEnd(8)} ${span.service.padEnd(11)} ${ms.padStart(7)} ms  ${code ?? ''} ${STATUS[span.status] ?? ''}`.trimEnd());
    for (const child of (children.get(span.spanId) ?? []).sort(byStart)) print(child, depth + 1);
  };
  for (const root of roots.sort(byStart)) {
    lines.push(`trace ${root.traceId}`);
    print(root, 1);
  }
  return lines.join('\n');
}
