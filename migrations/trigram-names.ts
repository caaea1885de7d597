// Names shared by the migration that creates the trigram indexes and the list code that queries
// them. Kept apart from the migration so that reading them does not load typeorm (the list worker
// thread starts without it).
export const trigramIndexed = [['channels', 'name'], ['devices', 'name']] as const;
export const trigramTable = (table: string, column: string) => `${table}_${column}_trigram`;
