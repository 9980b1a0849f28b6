/**
 * The tables a stage declares it produces, checked once it has run: each exists with the declared columns and
 * types (it may hold more), and no two rows share its grain. A stage that breaks its contract is a bug of the
 * code, not of the input: the batch stops with an internal error naming the stage, the table and the difference.
 */
import type { Db } from './db.ts';
import type { TableDeclaration } from './context.ts';

/** The differences between the tables in the database and their declarations, in words (empty: they agree). */
export async function contractViolations(db: Db, tables: readonly TableDeclaration[]): Promise<string[]> {
  const problems: string[] = [];
  for (const t of tables) {
    const cols = await db.all<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?`,
      [t.name],
    );
    if (cols.length === 0) {
      problems.push(`table ${t.name} is missing`);
      continue;
    }
    const types = new Map(cols.map((c) => [c.column_name, c.data_type]));
    for (const c of t.columns) {
      const found = types.get(c.name);
      if (found === undefined) problems.push(`table ${t.name} lacks column ${c.name}${c.type ? ` (${c.type})` : ''}`);
      else if (c.type !== undefined && found !== c.type) problems.push(`column ${t.name}.${c.name} is ${found}, declared ${c.type}`);
    }
    if (t.grain.length && t.grain.every((g) => types.has(g))) {
      const key = t.grain.join(', ');
      const repeated = await db.count(`SELECT count(*) FROM (SELECT ${key} FROM ${t.name} GROUP BY ${key} HAVING count(*) > 1)`);
      if (repeated > 0) problems.push(`table ${t.name}: ${repeated} values of its grain (${key}) name more than one row`);
    }
  }
  return problems;
}

/** Throws when a produced table breaks its declaration (an internal error: exit 1). */
export async function checkContract(db: Db, stage: string, tables: readonly TableDeclaration[]): Promise<void> {
  const problems = await contractViolations(db, tables);
  if (problems.length) throw new Error(`stage ${stage} broke its contract: ${problems.join('; ')}`);
}
