// Every migration, oldest first. Listed as classes (not a glob) so they load under tsx and in
// any working directory.
import { InitialSchema1732406400000 } from './1732406400000-initial-schema.ts';

export const migrations = [InitialSchema1732406400000];
