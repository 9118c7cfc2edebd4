import { Node, SyntaxKind, VariableDeclarationKind } from 'ts-morph';

/**
 * The value of a decorator option that svc-gen writes into the schema, evaluated as far as it
 * simply can be without running the code:
 *
 * - a number literal (`500`, `5_000`, `0x10`), `-` / `+` before one, parentheses, `as` and `satisfies`;
 * - `+ - * / %` between evaluable operands (`5 * 1000`, `2 * SECOND`);
 * - a name or property whose type is a number literal (`const SECOND = 1000`, an enum member,
 *   a property of an `as const` object), also imported from another module;
 * - a `const` whose type was widened to `number` (`const TIMEOUT = 5 * SECOND`,
 *   `const T: number = 500`): its initializer, evaluated the same way.
 *
 * Anything else (a function call, a `let`, a mutable object's property, a parameter) is
 * `undefined`: svc-gen cannot know its value, and the caller decides what to do about it.
 * `files` collects the files whose declarations the value came from (for --watch).
 */
export function constantNumber(node: Node, files?: Set<string>): number | undefined {
  return evaluate(node, files, 0);
}

/**
 * `true` or `false` when the value is a boolean literal or of a boolean literal type (a
 * `const IDEMPOTENT = true`), `undefined` when it is `undefined`, `'unknown'` otherwise.
 */
export function constantBoolean(node: Node): boolean | undefined | 'unknown' {
  if (Node.isTrueLiteral(node)) return true;
  if (Node.isFalseLiteral(node)) return false;
  const type = node.getType();
  if (type.isUndefined()) return undefined;
  if (type.isBooleanLiteral()) return type.getText() === 'true';
  return 'unknown';
}

/** `true` when the value is `undefined` itself (`timeout: undefined`): the option is not set. */
export function isUndefinedValue(node: Node): boolean {
  return node.getType().isUndefined();
}

// Deep enough for any constant a person writes, and a stop for `const A = B, B = A` cycles.
const MAX_DEPTH = 32;

const ARITHMETIC = new Map<SyntaxKind, (a: number, b: number) => number>([
  [SyntaxKind.PlusToken, (a, b) => a + b],
  [SyntaxKind.MinusToken, (a, b) => a - b],
  [SyntaxKind.AsteriskToken, (a, b) => a * b],
  [SyntaxKind.SlashToken, (a, b) => a / b],
  [SyntaxKind.PercentToken, (a, b) => a % b],
]);

function evaluate(node: Node, files: Set<string> | undefined, depth: number): number | undefined {
  if (depth > MAX_DEPTH) return undefined;
  // The compiler's text of a literal is its value in decimal (separators gone, hex converted).
  if (Node.isNumericLiteral(node)) return Number(node.compilerNode.text);
  if (Node.isParenthesizedExpression(node) || Node.isAsExpression(node) || Node.isSatisfiesExpression(node) || Node.isNonNullExpression(node)) {
    return evaluate(node.getExpression(), files, depth + 1);
  }
  if (Node.isPrefixUnaryExpression(node)) {
    const operator = node.getOperatorToken();
    if (operator !== SyntaxKind.MinusToken && operator !== SyntaxKind.PlusToken) return undefined;
    const value = evaluate(node.getOperand(), files, depth + 1);
    return value === undefined ? undefined : operator === SyntaxKind.MinusToken ? -value : value;
  }
  if (Node.isBinaryExpression(node)) {
    const apply = ARITHMETIC.get(node.getOperatorToken().getKind());
    if (!apply) return undefined;
    const left = evaluate(node.getLeft(), files, depth + 1);
    const right = left === undefined ? undefined : evaluate(node.getRight(), files, depth + 1);
    return left === undefined || right === undefined ? undefined : apply(left, right);
  }
  if (!(Node.isIdentifier(node) || Node.isPropertyAccessExpression(node))) return undefined;
  const declaration = declarationOf(node);
  const type = node.getType();
  if (type.isNumberLiteral()) {
    if (declaration) files?.add(declaration.getSourceFile().getFilePath());
    return type.getLiteralValue() as number;
  }
  // Only a const keeps the value it was declared with; a let, a var or a property may change.
  if (!declaration || !Node.isVariableDeclaration(declaration)) return undefined;
  if (declaration.getVariableStatement()?.getDeclarationKind() !== VariableDeclarationKind.Const) return undefined;
  const initializer = declaration.getInitializer();
  if (!initializer) return undefined;
  files?.add(declaration.getSourceFile().getFilePath());
  return evaluate(initializer, files, depth + 1);
}

function declarationOf(node: Node): Node | undefined {
  // `{ timeout }`: the name's own symbol is the property; the value is the variable it names.
  const parent = node.getParent();
  let symbol = parent && Node.isShorthandPropertyAssignment(parent) && parent.getNameNode() === node ? parent.getValueSymbol() : node.getSymbol();
  if (symbol?.isAlias()) symbol = symbol.getAliasedSymbol();
  return symbol?.getValueDeclaration() ?? symbol?.getDeclarations()[0];
}
