/** Kemendagri region reference (idn-area-data, data ODbL) loaded into DuckDB as ref_* tables. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Db } from './db.ts';
import { lit } from './db.ts';

export function referenceDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('idn-area-data/package.json')), 'data');
}

/**
 * Creates ref_province(code 2), ref_regency(code 4), ref_district(code 6) and
 * ref_village(code 10, district_code 6, regency_code 4, province_code 2, kind 'kelurahan'|'desa'|'desa_adat', name).
 * Codes are stored without dots. (OR REPLACE: a stage killed halfway through is simply run again.)
 */
export async function loadReference(db: Db): Promise<void> {
  if (await db.tableExists('ref_village')) return;
  const dir = referenceDataDir();
  const csv = (f: string) => `read_csv(${lit(join(dir, f))}, header = true, all_varchar = true)`;
  await db.run(`
    CREATE OR REPLACE TABLE ref_province AS SELECT code, name FROM ${csv('provinces.csv')};
    CREATE OR REPLACE TABLE ref_regency AS SELECT replace(code, '.', '') AS code, province_code, name FROM ${csv('regencies.csv')};
    CREATE OR REPLACE TABLE ref_district AS
      SELECT replace(code, '.', '') AS code, replace(regency_code, '.', '') AS regency_code, name FROM ${csv('districts.csv')};
    CREATE OR REPLACE TABLE ref_village AS
      SELECT replace(code, '.', '') AS code,
             replace(district_code, '.', '') AS district_code,
             substr(replace(code, '.', ''), 1, 4) AS regency_code,
             substr(code, 1, 2) AS province_code,
             CASE substr(replace(code, '.', ''), 7, 1) WHEN '1' THEN 'kelurahan' WHEN '2' THEN 'desa' WHEN '3' THEN 'desa_adat' END AS kind,
             name
      FROM ${csv('villages.csv')};
  `);
}
