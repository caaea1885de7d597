// gosip's `filters` language, parsed into a small tree and compiled to typeorm Brackets with named
// parameters. gosip pasted field names, `or` values and `sort` into SQL; here every name comes from
// the resource whitelist and every value is converted to the field's type and bound.
import { z } from 'zod';
import { ApiError } from './errors.ts';
import type { FieldType, ResourceFields } from './resources.ts';

export const filterLimits = {
  maxDepth: 4, // nested `or` levels
  maxConditions: 50,
  maxInValues: 100,
  maxValueLength: 256,
  maxFiltersLength: 16_384,
  maxSortKeys: 5,
  maxSortLength: 200,
} as const;

export type Operator = '=' | '>' | '<' | '>=' | '<=' | '<>' | 'in' | 'notin' | 'like';
type Scalar = string | number;

export interface FilterCondition {
  kind: 'condition';
  field: string;
  op: Operator;
  value: Scalar | Scalar[];
}
export interface FilterOr {
  kind: 'or';
  groups: FilterNode[][];
}
export type FilterNode = FilterCondition | FilterOr;

const operatorAliases: Record<string, Operator> = {
  '=': '=',
  '==': '=',
  '>': '>',
  '<': '<',
  '>=': '>=',
  '<=': '<=',
  '<>': '<>',
  '!=': '<>',
  in: 'in',
  notin: 'notin',
  'not in': 'notin',
  like: 'like',
};
const allowedOperators = '=, >, <, >=, <=, <>, !=, in, notin, like';

const scalarSchema = z.union([z.string(), z.number(), z.boolean()]);
const conditionSchema = z.strictObject({
  field_name: z.string(),
  opertator: z.string().optional(),
  operator: z.string().optional(),
  value: z.union([scalarSchema, z.array(scalarSchema)]),
});
const orSchema = z.strictObject({ or: z.array(z.unknown()) });

function bad(message: string): ApiError {
  return new ApiError('badRequest', message);
}

function zodMessage(err: z.ZodError, path: string): string {
  const issue = err.issues[0];
  if (!issue) return `${path} is invalid`;
  const where = issue.path.length ? `${path}.${issue.path.join('.')}` : path;
  if (issue.code === 'unrecognized_keys') return `${where} has unknown keys (allowed: field_name, opertator, operator, value, or)`;
  if (issue.code === 'invalid_union' || issue.code === 'invalid_type') {
    return `${where} has the wrong type (${issue.path.at(-1) === 'value' ? 'expected a string, number, boolean or an array of them' : issue.message})`;
  }
  return `${where}: ${issue.message}`;
}

/** Parses the URL parameter; undefined or empty means no filter. Throws ApiError('badRequest'). */
export function parseFilters(raw: string | undefined, resource: ResourceFields): FilterNode[] {
  if (raw === undefined || raw.trim() === '') return [];
  if (raw.length > filterLimits.maxFiltersLength) {
    throw bad(`filters is longer than ${filterLimits.maxFiltersLength} characters`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw bad('filters is not valid JSON');
  }
  if (!Array.isArray(json)) throw bad('filters must be a JSON array of conditions');
  const state = { conditions: 0 };
  return parseGroup(json, 'filters', 0, resource, state);
}

function parseGroup(list: unknown[], path: string, depth: number, resource: ResourceFields, state: { conditions: number }): FilterNode[] {
  if (list.length > filterLimits.maxConditions) throw bad(`filters has more than ${filterLimits.maxConditions} conditions`);
  const nodes: FilterNode[] = [];
  list.forEach((item, i) => {
    const p = `${path}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw bad(`${p} must be an object`);
    if ('or' in item) {
      if (depth + 1 > filterLimits.maxDepth) throw bad(`${p}.or nests deeper than ${filterLimits.maxDepth} levels`);
      const parsed = orSchema.safeParse(item);
      if (!parsed.success) {
        throw bad(parsed.error.issues[0]?.code === 'unrecognized_keys' ? `${p} mixes "or" with other keys` : `${p}.or must be an array of condition arrays`);
      }
      const groups = parsed.data.or;
      if (groups.length === 0) throw bad(`${p}.or is empty`);
      if (groups.length > filterLimits.maxConditions) throw bad(`filters has more than ${filterLimits.maxConditions} conditions`);
      nodes.push({
        kind: 'or',
        groups: groups.map((g, j) => {
          const gp = `${p}.or[${j}]`;
          if (!Array.isArray(g)) throw bad(`${gp} must be an array of conditions`);
          if (g.length === 0) throw bad(`${gp} is an empty group`);
          return parseGroup(g, gp, depth + 1, resource, state);
        }),
      });
      return;
    }
    state.conditions += 1;
    if (state.conditions > filterLimits.maxConditions) throw bad(`filters has more than ${filterLimits.maxConditions} conditions`);
    nodes.push(parseCondition(item, p, resource));
  });
  return nodes;
}

function parseCondition(item: object, p: string, resource: ResourceFields): FilterCondition {
  const parsed = conditionSchema.safeParse(item);
  if (!parsed.success) throw bad(zodMessage(parsed.error, p));
  const c = parsed.data;
  if (!Object.hasOwn(resource.fields, c.field_name)) {
    // The name itself is not echoed: a response never carries request text that could be SQL.
    throw bad(`${p}.field_name is not a filterable field of ${resource.name} (allowed: ${Object.keys(resource.fields).join(', ')})`);
  }
  const type = resource.fields[c.field_name] as FieldType;
  if (c.opertator !== undefined && c.operator !== undefined && c.opertator.trim() !== c.operator.trim()) {
    throw bad(`${p} has both "opertator" and "operator" with different values`);
  }
  const rawOp = (c.opertator ?? c.operator)?.trim().toLowerCase();
  if (rawOp === undefined) throw bad(`${p} is missing "opertator"`);
  const op = Object.hasOwn(operatorAliases, rawOp) ? operatorAliases[rawOp] : undefined;
  if (!op) throw bad(`${p}.opertator is not an operator (allowed: ${allowedOperators})`);
  if (op === 'like' && type !== 'string') throw bad(`${p}: like applies to text fields only, not "${c.field_name}"`);
  if (type === 'bool' && op !== '=' && op !== '<>' && op !== 'in' && op !== 'notin') {
    throw bad(`${p}: "${c.field_name}" is a boolean and takes =, <>, in or notin`);
  }
  if (op === 'in' || op === 'notin') {
    let values: unknown[];
    if (Array.isArray(c.value)) values = c.value;
    else if (typeof c.value === 'string') values = c.value.split(',').map((s) => s.trim());
    else values = [c.value];
    if (values.length === 0) throw bad(`${p}.value: ${op} needs at least one value`);
    if (values.length > filterLimits.maxInValues) throw bad(`${p}.value: ${op} takes at most ${filterLimits.maxInValues} values`);
    return { kind: 'condition', field: c.field_name, op, value: values.map((v, k) => convertValue(type, v, `${p}.value[${k}]`, c.field_name)) };
  }
  if (Array.isArray(c.value)) throw bad(`${p}.value: ${op} takes a single value, not an array`);
  return { kind: 'condition', field: c.field_name, op, value: convertValue(type, c.value, `${p}.value`, c.field_name) };
}

function convertValue(type: FieldType, v: unknown, p: string, field: string): Scalar {
  switch (type) {
    case 'string':
      if (typeof v === 'string') {
        if (v.length > filterLimits.maxValueLength) throw bad(`${p} is longer than ${filterLimits.maxValueLength} characters`);
        return v;
      }
      if (typeof v === 'number' && Number.isFinite(v)) {
        if (Number.isInteger(v) && !Number.isSafeInteger(v)) throw bad(`${p}: "${field}" is text; send long ids as strings (the number lost precision)`);
        return String(v);
      }
      throw bad(`${p}: "${field}" expects a string`);
    case 'int': {
      if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
      if (typeof v === 'string' && /^\s*-?\d{1,15}\s*$/.test(v)) return Number(v);
      throw bad(`${p}: "${field}" expects an integer`);
    }
    case 'number': {
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      if (typeof v === 'string' && /^\s*-?\d{1,15}(\.\d{1,15})?\s*$/.test(v)) return Number(v);
      throw bad(`${p}: "${field}" expects a number`);
    }
    case 'bool':
      // Stored as 0/1 on both databases; better-sqlite3 cannot bind JS booleans.
      if (v === true || v === 1 || v === '1' || v === 'true') return 1;
      if (v === false || v === 0 || v === '0' || v === 'false') return 0;
      throw bad(`${p}: "${field}" expects true or false`);
  }
}

// `!` rather than backslash: a backslash inside a SQL literal means different things to SQLite and
// MariaDB, `!` means the same to both.
export function likeContains(v: string): string {
  return `%${v.replace(/[!%_]/g, (ch) => `!${ch}`)}%`;
}

/** SQL text for one dialect: identifiers come only from the whitelists, so quoting never meets user text. */
export interface SqlDialect {
  quote(identifier: string): string;
  /**
   * Columns to hide from SQLite's planner (`+column`, the documented way): an index on an ON/OFF
   * column would make it sort most of the table instead of walking the sort column's index.
   */
  unindexed?: ReadonlySet<string>;
}

/** The parsed filters as one SQL condition ANDed together, every value a `?` pushed onto params. */
export function compileFilters(nodes: FilterNode[], d: SqlDialect, params: unknown[]): string {
  const compile = (node: FilterNode): string => {
    if (node.kind === 'or') return `(${node.groups.map((g) => `(${g.map(compile).join(' AND ')})`).join(' OR ')})`;
    const col = `${d.unindexed?.has(node.field) ? '+' : ''}${d.quote(node.field)}`;
    switch (node.op) {
      case 'in':
      case 'notin': {
        const values = node.value as Scalar[];
        params.push(...values);
        return `${col} ${node.op === 'in' ? 'IN' : 'NOT IN'} (${values.map(() => '?').join(', ')})`;
      }
      case 'like':
        params.push(likeContains(String(node.value)));
        return `${col} LIKE ? ESCAPE '!'`;
      default:
        params.push(node.value);
        return `${col} ${node.op} ?`;
    }
  };
  return nodes.map(compile).join(' AND ');
}

export interface SortKey {
  field: string;
  direction: 'ASC' | 'DESC';
}

/** `-addtime,name`: whitelisted fields, `-` = descending. */
export function parseSort(raw: string | undefined, resource: ResourceFields, fallback = '-addtime'): SortKey[] {
  const text = raw === undefined || raw.trim() === '' ? fallback : raw;
  if (text.length > filterLimits.maxSortLength) throw bad(`sort is longer than ${filterLimits.maxSortLength} characters`);
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length > filterLimits.maxSortKeys) throw bad(`sort takes at most ${filterLimits.maxSortKeys} fields`);
  const seen = new Set<string>();
  return parts.map((part, i) => {
    const desc = part.startsWith('-');
    const field = desc || part.startsWith('+') ? part.slice(1) : part;
    if (!Object.hasOwn(resource.fields, field)) {
      throw bad(`sort[${i}] is not a sortable field of ${resource.name} (allowed: ${Object.keys(resource.fields).join(', ')})`);
    }
    if (seen.has(field)) throw bad(`sort names "${field}" twice`);
    seen.add(field);
    return { field, direction: desc ? 'DESC' : 'ASC' };
  });
}

/** ORDER BY text; a unique tie-breaker (id) makes pages stable and identical across SQLite and MariaDB. */
export function compileSort(keys: SortKey[], d: SqlDialect): string {
  const parts = keys.map((k) => `${d.quote(k.field)} ${k.direction}`);
  parts.push(`${d.quote('id')} ${keys[0]?.direction ?? 'ASC'}`);
  return parts.join(', ');
}
