import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import * as natsErrors from '../src/nats-errors.js';

it('docs/errors.md lists every error the NATS transport raises', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  for (const name of Object.keys(natsErrors)) expect(doc, `docs/errors.md should list ${name}`).toMatch(new RegExp(`\\| NATS \\| \`${name}\` \\|`));
});
