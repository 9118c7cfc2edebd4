/**
 * The put journals of a scenario: each server process appends the id of every `put` it runs to a
 * file of its own (written synchronously, so a kill -9 loses nothing the handler wrote). Reading
 * them all says how often each id ran across the servers.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class JournalDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'svc-chaos-journal-'));

  /** The journal file of one server: pass it as ECHO_JOURNAL. */
  fileFor(server: string): string {
    return join(this.dir, `${server.replace(/[^a-z0-9-]/gi, '_')}.log`);
  }

  /** How many times each id ran, over every server's journal. */
  runsById(): Map<string, number> {
    const runs = new Map<string, number>();
    for (const name of readdirSync(this.dir)) {
      for (const id of readFileSync(join(this.dir, name), 'utf8').split('\n')) {
        if (id !== '') runs.set(id, (runs.get(id) ?? 0) + 1);
      }
    }
    return runs;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What the journals say about a client's puts. */
export interface PutCheck {
  /** Put runs journaled for this client's ids, over every server. */
  runs: number;
  /** Ids that ran more than once: a non-idempotent handler ran twice (must be none). */
  ranTwice: string[];
  /** Ids of successful puts not journaled exactly once (must be none). */
  okNotOnce: string[];
}

/** Checks the puts of the client whose ids start with `tag-`. */
export function checkPuts(runs: ReadonlyMap<string, number>, tag: string, okIds: readonly string[]): PutCheck {
  const prefix = `${tag}-`;
  let total = 0;
  const ranTwice: string[] = [];
  for (const [id, n] of runs) {
    if (!id.startsWith(prefix)) continue;
    total += n;
    if (n > 1) ranTwice.push(id);
  }
  const okNotOnce = okIds.filter((id) => runs.get(id) !== 1);
  return { runs: total, ranTwice, okNotOnce };
}
