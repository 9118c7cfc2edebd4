import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

it('the demo prints one trace per checkout, spanning the storefront and the shop', () => {
  const run = spawnSync(process.execPath, [here('../dist/demo.js')], { encoding: 'utf8', timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  const out = run.stdout;
  expect(out).toContain('checkout 2 tea: ok, 8 left');
  expect(out).toContain('checkout 1 cake: FAILED_PRECONDITION: only 0 cake left');
  // The tree: the storefront's call and attempt, the shop's server span, its downstream call.
  expect(out).toMatch(/^ {2}Shop\/checkout +client +storefront .* OK$/m);
  expect(out).toMatch(/^ {4}attempt Shop\/checkout +client +storefront/m);
  expect(out).toMatch(/^ {6}Shop\/checkout +server +shop /m);
  expect(out).toMatch(/^ {8}Inventory\/reserve +client +shop /m);
  expect(out).toMatch(/^ {12}Inventory\/reserve +server +shop .*FAILED_PRECONDITION$/m);
  expect(out.match(/^trace [0-9a-f]{32}$/gm)).toHaveLength(2);
  expect(out).toMatch(/checkout of 2 tea {2}trace_id=[0-9a-f]{32} span_id=[0-9a-f]{16}/);
  expect(out).toMatch(/rpc_server_call_duration_count\{rpc_system_name="svc",rpc_method="Shop\/checkout",rpc_status_code="OK"\} 1/);
  expect(out).toContain('Demo finished');
});
