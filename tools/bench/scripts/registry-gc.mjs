// How an in-flight registry's data structure changes what the young generation keeps.
// Run: node --trace-gc-nvp scripts/registry-gc.mjs <none|set|map|object> | node scripts/registry-gc.mjs --summary
//
// Each round "sends" 100 calls (a parsed JSON body each), registers them, yields to the event
// loop as a network round trip would, then forgets them. With a Set or a Map as the registry,
// V8's chain of replaced hash tables keeps finished calls alive through scavenges
// (docs/performance.md, "Maps, Sets and the young generation"); a dictionary object does not.
import { createInterface } from 'node:readline';

if (process.argv[2] === '--summary') {
  const sums = {};
  let n = 0;
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.includes('gc=s')) continue;
    if (++n <= 5) continue; // start-up
    for (const field of ['pause', 'allocated', 'new_space_survived', 'promoted']) {
      const m = line.match(new RegExp(`\\b${field}=([\\d.]+)`));
      if (m) sums[field] = (sums[field] ?? 0) + Number(m[1]);
    }
  }
  const count = Math.max(1, n - 5);
  console.log(`${count} scavenges: pause ${(sums.pause / count).toFixed(2)} ms, allocated ${(sums.allocated / count / 1e6).toFixed(1)} MB, survived ${(sums.new_space_survived / count / 1e6).toFixed(2)} MB, promoted ${(sums.promoted / count / 1e6).toFixed(2)} MB (means)`);
} else {
  const mode = process.argv[2] ?? 'map';
  const set = new Set();
  const map = new Map();
  const object = Object.create(null);
  let id = 0;
  const end = Date.now() + 2_000;
  while (Date.now() < end) {
    const round = [];
    for (let i = 0; i < 100; i++) {
      const call = { id: ++id, body: JSON.parse(`{"a":[1,2,3],"b":"${'x'.repeat(300)}${id}","c":{"d":true}}`) };
      if (mode === 'set') set.add(call);
      else if (mode === 'map') map.set(call.id, call);
      else if (mode === 'object') object[call.id] = call;
      round.push(call);
    }
    await new Promise((resolve) => setImmediate(resolve));
    for (const call of round) {
      if (mode === 'set') set.delete(call);
      else if (mode === 'map') map.delete(call.id);
      else if (mode === 'object') delete object[call.id];
    }
  }
  console.error(`${mode}: ${id} calls`);
}
