/** An error in the user's code that stops generation: where, what, and what to write instead. */
export class CodegenError extends Error {
  constructor(
    /** `src/arith.ts:12:5`, relative to the project root. */
    readonly location: string,
    /** `Arith.mul → args.items[].when`. */
    readonly path: string,
    readonly problem: string,
    readonly hint: string,
  ) {
    super(`${location} ${path}: ${problem}${hint ? `. ${hint}` : ''}`);
    this.name = 'CodegenError';
  }
}

/** Several CodegenErrors at once: generation reports all it found before stopping. */
export class CodegenFailure extends Error {
  constructor(readonly errors: readonly Error[]) {
    super(`svc-gen found ${errors.length} problem${errors.length === 1 ? '' : 's'}:\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
    this.name = 'CodegenFailure';
  }
}
