/**
 * A wrong option value as an error message shows it: its kind, and numbers and booleans as they
 * are. Strings are never shown: an option may hold a secret (a token, a key), and messages reach
 * logs.
 */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  if (typeof value === 'function') return 'a function';
  return typeof value === 'object' ? 'an object' : String(value);
}
