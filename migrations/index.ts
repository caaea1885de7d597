// Every migration, oldest first. Listed as classes (not a glob) so they load under tsx and in
// any working directory.
import { InitialSchema1732406400000 } from './1732406400000-initial-schema.ts';
import { ListQuerySupport1764000000000 } from './1764000000000-list-query-support.ts';

export const migrations = [InitialSchema1732406400000, ListQuerySupport1764000000000];
