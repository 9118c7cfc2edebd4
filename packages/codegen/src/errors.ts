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

/**
 * Something in the user's code svc-gen could not read but can do without: it is left out of the
 * output, generation goes on, and the CLI prints it. Same shape as a CodegenError.
 */
export class CodegenWarning {
  readonly message: string;

  constructor(
    /** `src/arith.ts:12:5`, relative to the project root. */
    readonly location: string,
    /** `Arith.wait`. */
    readonly path: string,
    readonly problem: string,
    readonly hint: string,
  ) {
    this.message = `${location} ${path}: ${problem}${hint ? `. ${hint}` : ''}`;
  }
}

/**
 * Problems found together inside the reader (the fields of one type, the methods of one service),
 * passed up so that all of them are reported; nested ones are flattened.
 */
export class AggregateErrors extends Error {
  readonly errors: readonly Error[];

  constructor(errors: readonly Error[]) {
    const flat = errors.flatMap((e) => (e instanceof AggregateErrors ? e.errors : [e]));
    super(flat.map((e) => e.message).join('\n'));
    this.errors = flat;
  }

  /** One error as it is, several as one AggregateErrors. */
  static of(errors: readonly Error[]): Error {
    return errors.length === 1 ? errors[0]! : new AggregateErrors(errors);
  }
}

/** Runs `step`; the problems in the user's code it throws are added to `problems` rather than thrown. */
export function collecting<T>(problems: Error[], step: () => T): T | undefined {
  try {
    return step();
  } catch (error) {
    if (!(error instanceof CodegenError || error instanceof AggregateErrors)) throw error;
    problems.push(error);
    return undefined;
  }
}

/** Several CodegenErrors at once: generation reports all it found before stopping. */
export class CodegenFailure extends Error {
  constructor(readonly errors: readonly Error[]) {
    super(`svc-gen found ${errors.length} problem${errors.length === 1 ? '' : 's'}:\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
    this.name = 'CodegenFailure';
  }
}
