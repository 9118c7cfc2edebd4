import { open } from 'node:fs/promises';
import { Method, Service, type CallContext } from '@svc/core';

export interface TailQuery {
  /** Lines to send from the end of the file before following it (default 0: only new ones). */
  last?: number;
}

export interface LogLine {
  /** Its line number in the file, from 1. */
  n: number;
  text: string;
}

/** How often the tail looks for lines the application appended. */
const POLL_MS = 25;

/**
 * Follows one log file: `tail` is `tail -f` as a server stream. Each yield waits for the client's
 * credit, so a slow reader slows the tail rather than filling this server's memory; when the
 * client leaves (or its deadline passes, or it dies) the generator's finally closes the file.
 */
@Service('Logs')
export class Logs {
  /** Tails that ended, and how: what the demo checks to see that finally ran. */
  readonly ended: string[] = [];

  constructor(private readonly path: string) {}

  @Method()
  async *tail(query: TailQuery, ctx: CallContext): AsyncGenerator<LogLine> {
    const file = await open(this.path, 'r');
    let position = 0;
    let n = 0;
    let partial = '';
    let sent = 0;
    try {
      // Skip to the last `query.last` lines: read what is there now, keep its tail.
      const { size } = await file.stat();
      const start = (await file.read(Buffer.alloc(size), 0, size, 0)).buffer.toString('utf8');
      position = Buffer.byteLength(start);
      const lines = start.split('\n');
      partial = lines.pop() ?? '';
      n = lines.length;
      for (const [i, text] of lines.slice(Math.max(0, lines.length - (query.last ?? 0))).entries()) {
        yield { n: n - Math.min(lines.length, query.last ?? 0) + i + 1, text };
        sent++;
      }
      const buffer = Buffer.alloc(64 * 1024);
      while (!ctx.signal.aborted) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) {
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          continue;
        }
        position += bytesRead;
        const lines = (partial + buffer.toString('utf8', 0, bytesRead)).split('\n');
        partial = lines.pop() ?? '';
        for (const text of lines) {
          yield { n: ++n, text };
          sent++;
        }
      }
    } finally {
      await file.close();
      this.ended.push(`${sent} lines sent, ${ctx.aborted ? 'cancelled by the client' : 'ended'}`);
    }
  }
}
