import { expect, it } from 'vitest';
import { armDeadline, disarmDeadline, type DeadlineTarget } from '../src/deadline-timer.js';

function target(deadline: number, fired: string[], name: string): DeadlineTarget {
  return { deadline, sweptPrev: undefined, sweptNext: undefined, deadlineReached: () => fired.push(name) };
}

it('fires each swept deadline once, never early, and never one that was disarmed', async () => {
  const fired: string[] = [];
  const start = Date.now();
  const targets = ['a', 'b', 'c', 'd', 'e'].map((name, i) => target(start + 1_050 + i * 10, fired, name));
  const handles = targets.map((t) => armDeadline(t));
  expect(handles.every((h) => h === undefined)).toBe(true); // a second or more: swept, no timer
  disarmDeadline(targets[4]!, handles[4]); // the head of the list (armed last)
  disarmDeadline(targets[2]!, handles[2]); // the middle
  disarmDeadline(targets[2]!, handles[2]); // twice is harmless
  await new Promise((resolve) => setTimeout(resolve, 900));
  expect(fired).toEqual([]);
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(fired.sort()).toEqual(['a', 'b', 'd']);
  const precise: string[] = [];
  const soon = target(Date.now() + 30, precise, 'soon');
  expect(armDeadline(soon)).toBeDefined(); // under a second: a precise timer
  await new Promise((resolve) => setTimeout(resolve, 80));
  expect(precise).toEqual(['soon']);
});
