/** Name helpers shared by the reader and the emitters. */

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isIdentifier(name: string): boolean {
  return IDENT.test(name);
}

export function pascal(text: string): string {
  const words = String(text).split(/[^A-Za-z0-9]+/).filter(Boolean);
  const out = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  if (out === '') return 'X';
  return /^[0-9]/.test(out) ? `V${out}` : out;
}

/** FooBar, fooBar, foo-bar → FOO_BAR. */
export function upperSnake(text: string): string {
  const out = String(text)
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  if (out === '') return 'EMPTY';
  return /^[0-9]/.test(out) ? `V${out}` : out;
}

/** Arith → arith, UserAccounts → user_accounts: the proto package and the file stem. */
export function snake(text: string): string {
  return upperSnake(text).toLowerCase();
}

/** The file stem of a service's generated files. */
export function fileStem(service: string): string {
  return snake(service).replace(/_/g, '-');
}
