// The shared shape of every list route: scope, filters, sort, page, then only public fields out.
import type { ObjectLiteral, Repository, SelectQueryBuilder } from 'typeorm';
import { applyFilters, applySort, parseFilters, parseSort } from './filters.ts';
import { pickPublic, type ResourceFields } from './resources.ts';
import type { ListQuery } from './schemas.ts';

export interface ListPage {
  total: number;
  list: Record<string, unknown>[];
}

export async function listRows<T extends ObjectLiteral>(
  repo: Repository<T>,
  resource: ResourceFields,
  query: ListQuery,
  scope?: (qb: SelectQueryBuilder<T>, alias: string) => void,
): Promise<ListPage> {
  // Parse before touching the database: a bad filter costs no query.
  const nodes = parseFilters(query.filters, resource);
  const sort = parseSort(query.sort, resource);
  const alias = 'r';
  const qb = repo.createQueryBuilder(alias);
  scope?.(qb, alias);
  applyFilters(qb, alias, nodes);
  applySort(qb, alias, sort);
  qb.offset(query.skip).limit(query.limit);
  const [rows, total] = await qb.getManyAndCount();
  return { total, list: rows.map((r) => pickPublic(resource, r)) };
}
