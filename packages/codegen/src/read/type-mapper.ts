import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { Node, ts, type Symbol as MorphSymbol, type Type } from 'ts-morph';
import type { FieldType, MapKeyName, ScalarName } from '@svc/core';
import { AggregateErrors, CodegenError, collecting } from '../errors.js';
import { BIGINT_WIDTHS, NUMBER_WIDTHS, SCALARS, type DraftEnum, type DraftField, type DraftMessage } from '../model/draft.js';
import { isIdentifier, pascal, upperSnake } from '../model/naming.js';

/** Where a type is being mapped: for error messages and for naming anonymous types. */
export interface Site {
  /** `Arith.mul → args.items[]`. */
  readonly path: string;
  /** The node whose position errors report, and where property types are resolved. */
  readonly node: Node;
  /** The name an anonymous message or enum gets here (`MulArgsOptions`). */
  readonly nameHint: string;
  /** The property being mapped, for JSDoc `@wire` tags and declared alias names. */
  readonly property?: MorphSymbol;
  /** The written type (a parameter's or a return type's), for alias names unions lose. */
  readonly typeNode?: Node;
}

/** The mapped type of one value, and its presence. */
export interface Mapped {
  readonly type: FieldType;
  readonly optional: boolean;
  readonly nullable: boolean;
}

const UNSUPPORTED_HINT = 'Use plain data: string, number (or int32, int64 … from @svc/core), boolean, bigint, Date, Uint8Array, arrays, Map/Record, enums, interfaces, or a discriminated union';

/**
 * Maps TypeScript types (through the type checker) to the schema model of one service. It
 * collects the messages and enums it meets; a type seen twice becomes one message.
 */
export class TypeMapper {
  readonly messages = new Map<string, DraftMessage>();
  readonly enums = new Map<string, DraftEnum>();
  readonly dependencies = new Set<string>();
  /** Type (by checker id) → message or enum name. */
  private readonly byType = new Map<number, string>();
  /** Name → the key of what owns it, to find two different types with one name. */
  private readonly owners = new Map<string, string>();
  /** Enums and unions (which have no stable type identity) by their members → name. */
  private readonly byKey = new Map<string, string>();

  constructor(private readonly root: string) {}

  /** A location `src/arith.ts:12:5` relative to the project root. */
  where(node: Node): string {
    const sf = node.getSourceFile();
    const path = sf.getFilePath();
    if (!path.startsWith(this.root + '/') || path.includes('/node_modules/')) {
      // A type from a package: name the package, not a path and line that change with its builds.
      return packageOf(path) ?? posix.basename(path);
    }
    const { line, column } = sf.getLineAndColumnAtPos(node.getStart());
    return `${relative(this.root, sf.getFilePath())}:${line}:${column}`;
  }

  fail(site: Site, problem: string, hint: string = UNSUPPORTED_HINT): never {
    throw new CodegenError(this.where(site.node), site.path, problem, hint);
  }

  /** A value in a field (or a whole request or response). */
  map(type: Type, site: Site): Mapped {
    this.track(type);
    let optional = false;
    let nullable = false;
    let rest: Type[] = [type];
    if (type.isUnion()) {
      rest = [];
      for (const part of type.getUnionTypes()) {
        if (part.isUndefined() || part.isVoid()) optional = true;
        else if (part.isNull()) nullable = true;
        else rest.push(part);
      }
    } else if (type.isUndefined() || type.isNull() || type.isVoid()) {
      this.fail(site, `the type '${type.getText()}' carries no value`, 'Remove the field, or give it a type that carries data');
    }
    if (rest.length === 0) this.fail(site, `the type '${type.getText()}' carries no value`, 'Remove the field, or give it a type that carries data');
    const mapped = rest.length === 1 ? this.mapSingle(rest[0]!, site) : this.mapUnion(rest, site);
    return { type: mapped, optional, nullable };
  }

  /** Records the files declaring a type (its alias, its symbol) for --watch. */
  private track(t: Type): void {
    for (const symbol of [t.getAliasSymbol(), t.getSymbol()]) {
      const file = symbol?.getDeclarations()[0]?.getSourceFile();
      if (file && !file.isDeclarationFile() && !file.isFromExternalLibrary()) this.dependencies.add(file.getFilePath());
    }
  }

  private mapSingle(t: Type, site: Site): FieldType {
    this.track(t);
    const flags = t.getFlags();
    if (t.isAny()) this.fail(site, "'any' has no wire shape", `Give it a concrete type. ${UNSUPPORTED_HINT}`);
    if (t.isUnknown()) this.fail(site, "'unknown' has no wire shape", `Give it a concrete type. ${UNSUPPORTED_HINT}`);
    if (t.isNever()) this.fail(site, "'never' has no wire shape", 'Remove the field');
    if (t.isTypeParameter()) this.fail(site, `the type parameter '${t.getText()}' is not bound here`, 'Use the generic type with concrete type arguments in the service (e.g. Page<User>)');
    if (flags & (ts.TypeFlags.ESSymbol | ts.TypeFlags.UniqueESSymbol)) this.fail(site, 'a symbol cannot travel over the wire', 'Use a string or an enum');
    if (t.isTemplateLiteral()) return this.scalar('string');
    const wire = this.wireWidth(t, site);
    if (wire) return wire;
    if (t.isString()) return this.scalar('string');
    if (t.isNumber()) return this.scalar('double');
    if (t.isBoolean() || t.isBooleanLiteral()) return this.scalar('bool');
    if (t.isBigInt()) return this.scalar('int64');
    if (t.isStringLiteral() || t.isNumberLiteral() || t.isEnumLiteral()) return this.mapUnion([t], site);
    if (t.isIntersection()) this.fail(site, `the intersection '${t.getText()}' is not supported`, 'Declare one interface with all the fields (interface C extends A, B {})');
    const symbolName = t.getSymbol()?.getName();
    if (symbolName === 'Date' && isLibType(t)) return { kind: 'timestamp' };
    if (symbolName === 'Uint8Array' && isLibType(t)) return this.scalar('bytes');
    if (symbolName === 'Buffer' && isLibType(t)) this.fail(site, 'Buffer does not survive the trip (the other side gets a Uint8Array)', 'Declare the field as Uint8Array (a Buffer is one, so you can still send Buffers)');
    if (t.isTuple()) this.fail(site, `the tuple '${t.getText()}' is not supported`, 'Use an interface with named fields, or an array of one type');
    if (t.isArray() || t.isReadonlyArray()) return this.mapList(t.getArrayElementType() ?? t.getTypeArguments()[0]!, site);
    if ((symbolName === 'Map' || symbolName === 'ReadonlyMap') && isLibType(t)) {
      const [k, v] = t.getTypeArguments();
      return this.mapMap(k!, v!, 'map', site);
    }
    if ((symbolName === 'Set' || symbolName === 'ReadonlySet') && isLibType(t)) this.fail(site, 'a Set has no wire shape', 'Use an array (T[])');
    if (symbolName === 'Promise' && isLibType(t)) this.fail(site, 'a Promise cannot travel over the wire', 'Await it and send the value');
    if (t.getCallSignatures().length > 0 || t.getConstructSignatures().length > 0) {
      this.fail(site, 'functions cannot travel over the wire', 'Send data instead (a string naming the action, an enum, or an interface)');
    }
    if (t.isObject()) {
      const stringIndex = t.getStringIndexType();
      const numberIndex = t.getNumberIndexType();
      if (stringIndex && t.getProperties().length === 0) return this.mapMapValue('string', stringIndex, 'record', site);
      if (numberIndex && t.getProperties().length === 0) this.fail(site, `the number-keyed record '${t.getText()}' is not supported`, 'Use Record<string, V>, or Map<int32, V> with a branded integer key');
      if (stringIndex || numberIndex) this.fail(site, `'${t.getText()}' mixes an index signature with fields`, 'Move the open-ended part into its own field: extra: Record<string, V>');
      return { kind: 'message', name: this.mapObject(t, site) };
    }
    return this.fail(site, `the type '${t.getText()}' is not supported`);
  }

  private scalar(scalar: ScalarName): FieldType {
    return { kind: 'scalar', scalar };
  }

  /** int32, int64 … from @svc/core (a brand on number or bigint), or a JSDoc `@wire int32` tag. */
  private wireWidth(t: Type, site: Site): FieldType | undefined {
    const tag = site.property?.getJsDocTags().find((tag) => tag.getName() === 'wire');
    const base = t.isIntersection() ? t.getIntersectionTypes().find((p) => p.isNumber() || p.isBigInt()) : t;
    let width: string | undefined;
    if (t.isIntersection()) {
      for (const part of t.getIntersectionTypes()) {
        for (const prop of part.getProperties()) {
          if (!prop.getName().startsWith('__@wireType')) continue;
          const propType = prop.getTypeAtLocation(site.node);
          for (const lit of propType.isUnion() ? propType.getUnionTypes() : [propType]) {
            if (lit.isStringLiteral()) width = lit.getLiteralValue() as string;
          }
        }
      }
      if (width === undefined) width = t.getAliasSymbol()?.getName();
    }
    if (tag) {
      const text = tag.getText().map((p) => p.text).join('').trim();
      if (!SCALARS.includes(text as ScalarName)) this.fail(site, `@wire ${text} is not a protobuf scalar`, `Write one of: ${[...NUMBER_WIDTHS, ...BIGINT_WIDTHS].join(', ')}`);
      width = text;
    }
    if (width === undefined || !base) return undefined;
    const scalar = width as ScalarName;
    if (base.isNumber() && NUMBER_WIDTHS.has(scalar)) return this.scalar(scalar);
    if (base.isBigInt() && BIGINT_WIDTHS.has(scalar)) return this.scalar(scalar);
    return this.fail(site, `the width '${width}' does not fit a ${base.getText()}`, base.isNumber()
      ? `A number takes one of ${[...NUMBER_WIDTHS].join(', ')}; 64-bit integers are bigint (int64)`
      : `A bigint takes one of ${[...BIGINT_WIDTHS].join(', ')}`);
  }

  private mapList(element: Type, site: Site): FieldType {
    const inner: Site = { path: `${site.path}[]`, node: site.node, nameHint: `${site.nameHint}Item` };
    const mapped = this.map(element, inner);
    if (mapped.optional || mapped.nullable) this.fail(inner, 'array elements cannot be null or undefined (protobuf repeated fields have no holes)', 'Drop null/undefined from the element type, or wrap each element in an interface with an optional field');
    if (mapped.type.kind === 'list' || mapped.type.kind === 'map') this.fail(inner, 'an array of arrays or maps has no protobuf shape', 'Wrap the inner collection in an interface: interface Row { cells: number[] } and use Row[]');
    return { kind: 'list', element: mapped.type };
  }

  private mapMap(key: Type, value: Type, js: 'map' | 'record', site: Site): FieldType {
    const keySite: Site = { path: `${site.path}{key}`, node: site.node, nameHint: `${site.nameHint}Key` };
    const k = this.map(key, keySite);
    if (k.optional || k.nullable || k.type.kind !== 'scalar') this.fail(keySite, `the map key '${key.getText()}' is not a protobuf map key`, 'Use string, boolean, bigint or a branded integer (int32, uint32, int64 …) key');
    const scalar = k.type.scalar;
    if (scalar === 'double' || scalar === 'float' || scalar === 'bytes') {
      this.fail(keySite, `a map key cannot be a ${scalar === 'bytes' ? 'Uint8Array' : 'floating-point number'}`, 'Use string, or a branded integer key: Map<int32, V> (int32 from @svc/core)');
    }
    return this.mapMapValue(scalar, value, js, site);
  }

  private mapMapValue(key: MapKeyName, value: Type, js: 'map' | 'record', site: Site): FieldType {
    const inner: Site = { path: `${site.path}{}`, node: site.node, nameHint: `${site.nameHint}Value` };
    const v = this.map(value, inner);
    if (v.optional || v.nullable) this.fail(inner, 'map values cannot be null or undefined', 'Drop null/undefined from the value type, or leave the key out instead');
    if (v.type.kind === 'list' || v.type.kind === 'map') this.fail(inner, 'a map of arrays or maps has no protobuf shape', 'Wrap the inner collection in an interface: interface Bucket { items: T[] }');
    return { kind: 'map', key, value: v.type, js };
  }

  /** An object type (interface, class, type literal, generic instantiation) → a message. */
  private mapObject(t: Type, site: Site): string {
    const known = this.byType.get(typeId(t));
    if (known !== undefined) return known;
    const { name, named } = this.objectName(t, site);
    const decl = t.getSymbol()?.getDeclarations()[0] ?? t.getAliasSymbol()?.getDeclarations()[0];
    const source = decl ? this.where(decl) : this.where(site.node);
    if (decl) this.dependencies.add(decl.getSourceFile().getFilePath());
    const finalName = this.claim(name, named, `type:${typeId(t)}`, site, source);
    this.byType.set(typeId(t), finalName);
    const message: DraftMessage = { name: finalName, fields: [], source: stripColumn(source) };
    this.messages.set(finalName, message);
    message.fields = this.fieldsOf(t, { ...site, nameHint: finalName });
    return finalName;
  }

  /** The fields of a message; every field that cannot travel is reported, not only the first. */
  private fieldsOf(t: Type, site: Site, skip?: string): DraftField[] {
    const fields: DraftField[] = [];
    const problems: Error[] = [];
    for (const prop of t.getProperties()) {
      const field = collecting(problems, () => this.fieldOf(prop, site, skip));
      if (field) fields.push(field);
    }
    if (problems.length > 0) throw AggregateErrors.of(problems);
    return fields;
  }

  /** One property as a field; undefined for what is not data (methods, accessors, statics, private and protected members). */
  private fieldOf(prop: MorphSymbol, site: Site, skip: string | undefined): DraftField | undefined {
    const name = prop.getName();
    if (name === skip) return undefined;
    const decl = prop.getDeclarations()[0];
    if (decl && (Node.isMethodDeclaration(decl) || Node.isMethodSignature(decl) || Node.isGetAccessorDeclaration(decl) || Node.isSetAccessorDeclaration(decl))) return undefined;
    if (decl && Node.isPropertyDeclaration(decl) && (decl.isStatic() || decl.hasModifier(ts.SyntaxKind.PrivateKeyword) || decl.hasModifier(ts.SyntaxKind.ProtectedKeyword))) return undefined;
    const node = decl ?? site.node;
    const fieldSite: Site = { path: `${site.path}.${name}`, node, nameHint: `${site.nameHint}${pascal(name)}`, property: prop };
    if (name.startsWith('__@') || name.startsWith('#')) this.fail(fieldSite, 'symbol-keyed and #private fields cannot travel over the wire', 'Use a string-named field');
    if (!isIdentifier(name)) this.fail(fieldSite, `the field name '${name}' is not a protobuf identifier`, 'Use letters, digits and _ (e.g. camelCase)');
    if (decl) this.dependencies.add(decl.getSourceFile().getFilePath());
    const mapped = this.map(prop.getTypeAtLocation(site.node), fieldSite);
    return {
      name,
      type: mapped.type,
      ...(mapped.optional || prop.isOptional() ? { optional: true } : {}),
      ...(mapped.nullable ? { nullable: true } : {}),
    };
  }

  /** Unions without null/undefined: literal unions → enum, object unions → oneof. */
  private mapUnion(parts: Type[], site: Site): FieldType {
    if (parts.every((p) => p.isBooleanLiteral())) return this.scalar('bool');
    if (parts.every((p) => p.isEnumLiteral())) return { kind: 'enum', name: this.mapTsEnum(parts, site) };
    if (parts.every((p) => p.isStringLiteral()) || parts.every((p) => p.isNumberLiteral())) {
      return { kind: 'enum', name: this.mapLiteralEnum(parts, site) };
    }
    if (parts.every((p) => p.isObject() && !p.isArray() && p.getCallSignatures().length === 0)) {
      return { kind: 'message', name: this.mapTaggedUnion(parts, site) };
    }
    return this.fail(site, `the union '${parts.map((p) => p.getText()).join(' | ')}' has no protobuf shape`,
      'Use a union of string literals (an enum), or a discriminated union of interfaces that share a literal field like kind: \'a\' | \'b\'');
  }

  private mapTsEnum(parts: Type[], site: Site): string {
    const decl = parts[0]!.getSymbol()?.getDeclarations()[0]?.getParent();
    if (!decl || !Node.isEnumDeclaration(decl)) return this.fail(site, `cannot find the enum of '${parts[0]!.getText()}'`);
    const name = decl.getName();
    const key = `enum:${decl.getSourceFile().getFilePath()}:${decl.getStart()}`;
    const source = this.where(decl);
    const cached = this.byKey.get(key);
    if (cached !== undefined) return cached;
    this.claim(name, true, key, site, source);
    this.byKey.set(key, name);
    this.dependencies.add(decl.getSourceFile().getFilePath());
    const values = decl.getMembers().map((m) => {
      const value = m.getValue();
      if (value === undefined) this.fail(site, `the enum member ${name}.${m.getName()} has no constant value`, 'Give every member a constant value');
      return { name: `${upperSnake(name)}_${upperSnake(m.getName())}`, value: value!, ...(typeof value === 'number' ? { fixed: value } : {}) };
    });
    this.checkEnumValues(name, values, site);
    this.enums.set(name, { name, values, source: stripColumn(source) });
    return name;
  }

  private mapLiteralEnum(parts: Type[], site: Site): string {
    const values = parts.map((p) => p.getLiteralValue() as string | number);
    const key = `literals:${values.map((v) => JSON.stringify(v)).sort().join('|')}`;
    const declared = declaredAliasName(site);
    const name = declared ?? site.nameHint;
    const cached = this.byKey.get(key);
    if (cached !== undefined) return cached;
    const source = this.where((declared !== undefined ? declaredAliasNode(site) : undefined) ?? site.node);
    const finalName = this.claim(name, declared !== undefined, key, site, source);
    this.byKey.set(key, finalName);
    const prefix = upperSnake(finalName);
    const draft = values.map((v) => ({ name: `${prefix}_${upperSnake(String(v))}`, value: v, ...(typeof v === 'number' ? { fixed: v } : {}) }));
    this.checkEnumValues(finalName, draft, site);
    this.enums.set(finalName, { name: finalName, values: draft, source: stripColumn(source) });
    return finalName;
  }

  private checkEnumValues(name: string, values: { name: string; fixed?: number }[], site: Site): void {
    const seen = new Set<string>();
    for (const v of values) {
      if (v.name === `${upperSnake(name)}_UNSPECIFIED` && v.fixed !== 0) this.fail(site, `the enum ${name} has a value named UNSPECIFIED, which svc-gen reserves for 0`, 'Rename the value');
      if (seen.has(v.name)) this.fail(site, `two values of ${name} both become ${v.name} in the .proto`, 'Rename one of them');
      seen.add(v.name);
      if (v.fixed !== undefined && (!Number.isInteger(v.fixed) || v.fixed < -(2 ** 31) || v.fixed >= 2 ** 31)) {
        this.fail(site, `the enum value ${v.fixed} of ${name} is not a 32-bit integer`, 'Use integer enum values');
      }
    }
  }

  /** A discriminated union → a message whose fields are the variants, in one oneof. */
  private mapTaggedUnion(parts: Type[], site: Site): string {
    const key = `union:${parts.map(typeId).sort((a, b) => a - b).join(',')}`;
    const declared = declaredAliasName(site);
    const name = declared ?? site.nameHint;
    const cached = this.byKey.get(key);
    if (cached !== undefined) return cached;
    const discriminant = findDiscriminant(parts, site.node);
    if (discriminant === undefined) {
      this.fail(site, `the union '${parts.map((p) => p.getText()).join(' | ')}' has no discriminant`,
        "Give every member a field with a distinct literal value, e.g. kind: 'circle' and kind: 'square'");
    }
    const source = this.where((declared !== undefined ? declaredAliasNode(site) : undefined) ?? site.node);
    const finalName = this.claim(name, declared !== undefined, key, site, source);
    this.byKey.set(key, finalName);
    const message: DraftMessage = { name: finalName, fields: [], discriminant, source: stripColumn(source) };
    this.messages.set(finalName, message);
    for (const part of parts) {
      const tag = literalOf(part.getProperty(discriminant)!.getTypeAtLocation(site.node))!;
      const variantName = this.claim(`${finalName}${pascal(String(tag))}`, false, `${key}:${String(tag)}`, site, source);
      const variantSite: Site = { path: `${site.path}<${discriminant}=${JSON.stringify(tag)}>`, node: site.node, nameHint: variantName };
      const variant: DraftMessage = { name: variantName, fields: [], source: stripColumn(source) };
      this.messages.set(variantName, variant);
      variant.fields = this.fieldsOf(part, variantSite, discriminant);
      const fieldName = typeof tag === 'string' && isIdentifier(tag) ? tag : `${discriminant}_${String(tag).replace(/[^A-Za-z0-9_]/g, '_')}`;
      message.fields.push({ name: fieldName, type: { kind: 'message', name: variantName }, tag });
    }
    return finalName;
  }

  /** Takes a message/enum name, or refuses a second type with the same name. */
  private claim(name: string, named: boolean, key: string, site: Site, source: string): string {
    key = named ? key : `anon:${key}`;
    const owner = this.owners.get(name);
    if (owner === undefined || owner === key) {
      this.owners.set(name, key);
      return name;
    }
    if (named && !owner.startsWith('anon:')) {
      const other = this.messages.get(name)?.source ?? this.enums.get(name)?.source ?? '?';
      this.fail(site, `two different types are both named '${name}' in this service (${stripColumn(source)} and ${other})`, 'Rename one of them; every message of a service needs its own name');
    }
    for (let i = 2; ; i++) {
      const candidate = `${name}${i}`;
      const o = this.owners.get(candidate);
      if (o === undefined || o === key) {
        this.owners.set(candidate, key);
        return candidate;
      }
    }
  }

  private objectName(t: Type, site: Site): { name: string; named: boolean } {
    const alias = t.getAliasSymbol();
    if (alias) return { name: alias.getName() + t.getAliasTypeArguments().map((a) => typeArgName(a)).join(''), named: true };
    const symbol = t.getSymbol();
    const symbolName = symbol?.getName();
    if (symbolName && symbolName !== '__type' && symbolName !== '__object' && !symbolName.startsWith('__')) {
      const args = t.getTypeArguments();
      return { name: symbolName + (args.length ? 'Of' + args.map((a) => typeArgName(a)).join('And') : ''), named: true };
    }
    return { name: site.nameHint, named: false };
  }
}

function typeArgName(t: Type): string {
  if (t.isString()) return 'String';
  if (t.isNumber()) return 'Double';
  if (t.isBoolean()) return 'Bool';
  if (t.isBigInt()) return 'Int64';
  if (t.isArray()) return `${typeArgName(t.getArrayElementType()!)}List`;
  const alias = t.getAliasSymbol();
  if (alias) return pascal(alias.getName()) + t.getAliasTypeArguments().map(typeArgName).join('');
  const name = t.getSymbol()?.getName();
  if (name && !name.startsWith('__')) return pascal(name) + t.getTypeArguments().map(typeArgName).join('');
  return pascal(t.getText());
}

function typeId(t: Type): number {
  return (t.compilerType as { id?: number }).id ?? -1;
}

function literalOf(t: Type): string | number | boolean | undefined {
  if (t.isStringLiteral() || t.isNumberLiteral()) return t.getLiteralValue() as string | number;
  if (t.isBooleanLiteral()) return t.getText() === 'true';
  if (t.isEnumLiteral()) return t.getLiteralValue() as string | number;
  return undefined;
}

/** The first property every member has with a literal type, the literals all distinct. */
function findDiscriminant(parts: Type[], node: Node): string | undefined {
  const first = parts[0]!;
  const candidates = first.getProperties().map((p) => p.getName());
  const ordered = [...candidates.filter((n) => n === 'kind' || n === 'type'), ...candidates.filter((n) => n !== 'kind' && n !== 'type')];
  for (const name of ordered) {
    const seen = new Set<string>();
    let ok = true;
    for (const part of parts) {
      const prop = part.getProperty(name);
      const lit = prop && !prop.isOptional() ? literalOf(prop.getTypeAtLocation(node)) : undefined;
      if (lit === undefined || seen.has(JSON.stringify(lit))) {
        ok = false;
        break;
      }
      seen.add(JSON.stringify(lit));
    }
    if (ok) return name;
  }
  return undefined;
}

/** `mode?: Mode | null` → 'Mode': unions lose their alias once null/undefined joins them. */
function declaredAliasName(site: Site): string | undefined {
  let typeNode: Node | undefined = site.typeNode;
  if (!typeNode) {
    const decl = site.property?.getDeclarations()[0];
    if (!decl || !(Node.isPropertySignature(decl) || Node.isPropertyDeclaration(decl) || Node.isParameterDeclaration(decl))) return undefined;
    typeNode = decl.getTypeNode();
  }
  while (typeNode && Node.isParenthesizedTypeNode(typeNode)) typeNode = typeNode.getTypeNode();
  if (typeNode && Node.isUnionTypeNode(typeNode)) {
    const rest = typeNode.getTypeNodes().filter((n) => !/^(undefined|null)$/.test(n.getText()));
    typeNode = rest.length === 1 ? rest[0] : undefined;
  }
  if (typeNode && Node.isTypeReference(typeNode) && typeNode.getTypeArguments().length === 0) {
    return typeNode.getTypeName().getText().split('.').pop();
  }
  return undefined;
}

/** Where the alias a field refers to is declared (`type Color = ...`), for messages and docs. */
function declaredAliasNode(site: Site): Node | undefined {
  const decl = site.property?.getDeclarations()[0];
  let typeNode: Node | undefined = site.typeNode ?? (decl && (Node.isPropertySignature(decl) || Node.isPropertyDeclaration(decl)) ? decl.getTypeNode() : undefined);
  if (typeNode && Node.isUnionTypeNode(typeNode)) typeNode = typeNode.getTypeNodes().find((n) => Node.isTypeReference(n));
  if (!typeNode || !Node.isTypeReference(typeNode)) return undefined;
  let symbol = typeNode.getTypeName().getSymbol();
  if (symbol?.isAlias()) symbol = symbol.getAliasedSymbol();
  return symbol?.getDeclarations()[0];
}

function isLibType(t: Type): boolean {
  const decl = t.getSymbol()?.getDeclarations()[0];
  if (!decl) return false;
  const path = decl.getSourceFile().getFilePath();
  return /\/typescript\/lib\/lib\.[^/]*\.d\.ts$/.test(path) || decl.getSourceFile().isFromExternalLibrary() || path.includes('/node_modules/');
}


export function relative(root: string, file: string): string {
  return posix.relative(root, file);
}

const packageNames = new Map<string, string | undefined>();

/** The name in the nearest package.json above a file. */
function packageOf(file: string): string | undefined {
  for (let dir = posix.dirname(file); dir !== posix.dirname(dir); dir = posix.dirname(dir)) {
    if (packageNames.has(dir)) return packageNames.get(dir);
    let name: string | undefined;
    try {
      name = (JSON.parse(readFileSync(posix.join(dir, 'package.json'), 'utf8')) as { name?: string }).name;
    } catch {
      continue;
    }
    packageNames.set(dir, name);
    return name;
  }
  return undefined;
}

function stripColumn(location: string): string {
  return location.replace(/:\d+$/, '');
}
