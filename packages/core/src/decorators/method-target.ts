/**
 * What method decorators share: finding the decorated function under either decorator mode, and
 * walking a class's methods to collect the marks they left.
 */

/**
 * The function and property name a method decorator was applied to, under standard decorators
 * `(value, context)` or experimentalDecorators `(prototype, key, descriptor)`. Throws, naming the
 * decorator, for statics, accessors, fields and symbol names.
 */
export function decoratedMethod(decorator: string, target: unknown, keyOrContext: unknown, descriptor: PropertyDescriptor | undefined): { fn: object; property: string } {
  if (typeof keyOrContext === 'object' && keyOrContext !== null && (keyOrContext as { kind?: unknown }).kind !== undefined) {
    const context = keyOrContext as ClassMethodDecoratorContext;
    if (context.kind !== 'method' || context.static || typeof context.name !== 'string' || typeof target !== 'function') {
      throw new TypeError(`${decorator} goes on instance methods with string names, not on '${String(context.name)}'`);
    }
    return { fn: target, property: context.name };
  }
  const fn = descriptor?.value as unknown;
  if (typeof fn !== 'function' || typeof keyOrContext !== 'string' || typeof target === 'function') {
    throw new TypeError(`${decorator} goes on instance methods with string names, not on '${String(keyOrContext)}'`);
  }
  return { fn, property: keyOrContext };
}

/** Visits each method of a prototype chain once, from the class up; a subclass's override wins. */
export function forEachMethod(prototype: object | null, visit: (property: string, fn: object) => void): void {
  const seen = new Set<string>();
  for (let proto = prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const property of Object.getOwnPropertyNames(proto)) {
      if (property === 'constructor' || seen.has(property)) continue;
      seen.add(property);
      const fn = Object.getOwnPropertyDescriptor(proto, property)?.value as unknown;
      if (typeof fn === 'function') visit(property, fn);
    }
  }
}
