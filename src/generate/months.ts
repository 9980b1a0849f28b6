/**
 * dtsen generate --months N: successive monthly snapshots of one population, with a truth whose person and
 * family ids are stable across months. The population is generated once (generate(), with its profile); each
 * month is derived from it in DuckDB SQL by events, each drawn once per person, family or record from a hash of
 * the seed (so month m+1 is month m with that month's events, and the same seed gives the same series):
 *
 * - new registrations: whole families held back from month 1 and registered in a later month;
 * - births and new members: single members of registered families held back and listed from a later month;
 * - deaths: every record of the person leaves every source;
 * - withdrawals: DTKS records removed (a household graduated or was excluded);
 * - moves: the family's DTKS and P3KE records get another village of the district, a new address and (DTKS) a
 *   new update date; Regsosek, a census, keeps the enumerated address;
 * - NIK and name corrections: a DTKS or P3KE record whose NIK (or a DTKS name) differs from what most of the
 *   person's records say is corrected to that;
 * - deciles: every quarter (months 4, 7, 10 …) a share of families moves one decile in Regsosek and P3KE.
 *
 * Each month's folder holds the three snapshots, truth.csv and events.csv (the events of that month, by record:
 * event, source, source_record_id, person_id, family_id); series.json sums them up. Untouched rows are copied
 * byte for byte (the files are handled as lines: DTKS fields split at `;`, P3KE's quoted fields at `","`).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Db, lit } from '../engine/db.ts';
import { writeFileAtomic } from '../engine/files.ts';
import { generate, type GenerateOptions } from './index.ts';

/** Monthly rates of the events (shares of families, persons or records a month). */
export const MONTHLY_RATES = {
  /** families registered for the first time */
  new_family: 0.003,
  /** members listed for the first time in a registered family (births, marriages) */
  new_member: 0.001,
  death: 0.001,
  /** DTKS records withdrawn */
  dtks_withdrawn: 0.003,
  /** families moving */
  move: 0.002,
  /** records whose NIK or name disagrees with the person's other records, corrected */
  correction: 0.1,
  /** families whose decile changes, each quarter */
  decile_quarterly: 0.1,
} as const;

/**
 * The snapshot date of month `month` of a series: the first of each month, month 1 on the batch config's default
 * (2026-10-01). A living register's monthly snapshots each have their own date; a batch of month m takes this one.
 */
export function monthSnapshotDate(month: number): string {
  return new Date(Date.UTC(2026, 9 + month - 1, 1)).toISOString().slice(0, 10);
}

export interface MonthsOptions extends Omit<GenerateOptions, 'out'> {
  out: string;
  months: number;
}

export interface MonthFigures {
  month: number;
  folder: string;
  persons: number;
  records: { dtks: number; regsosek: number; p3ke: number };
  /** true persons present this month and not the month before, and the other way round */
  new_persons: number;
  gone_persons: number;
  events: Record<string, number>;
}

const SEP = '\u001f';
const pad2 = (n: number) => String(n).padStart(2, '0');

/** u in [0, 1) from a hash of the seed, an event kind and a key. */
const u = (seed: number, kind: string, key: string) => `((md5_number(${lit(`${seed}:${kind}:`)} || ${key}) % 1000003)::DOUBLE / 1000003)`;
/** The month (2..months) an event of monthly `rate` happens to the key, or NULL. */
const at = (uExpr: string, rate: number, months: number) => `CASE WHEN ${uExpr} < ${rate * (months - 1)} THEN 2 + floor(${uExpr} / ${rate})::INTEGER END`;

function readLines(path: string): string {
  return `SELECT row_number() OVER () AS n, line FROM read_csv(${lit(path)}, columns = {'line': 'VARCHAR'}, delim = ${lit(SEP)}, quote = '', escape = '', header = false, auto_detect = false, strict_mode = false)`;
}

export async function generateMonths(opts: MonthsOptions): Promise<MonthFigures[]> {
  const { months, seed } = opts;
  if (!Number.isInteger(months) || months < 1) throw new Error('months must be a whole number of 1 or more');
  const base = join(opts.out, '.population');
  await mkdir(opts.out, { recursive: true });
  // the population, with the share held back for later registrations on top
  await generate({ ...opts, out: base, persons: Math.round(opts.persons * (1 + MONTHLY_RATES.new_family * (months - 1))) });
  const db = await Db.open();
  const figures: MonthFigures[] = [];
  try {
    const R = MONTHLY_RATES;
    await db.run(`
      CREATE TABLE truth AS SELECT * FROM read_csv(${lit(join(base, 'truth.csv'))}, all_varchar = true, header = true);
      CREATE TABLE dtks_line AS ${readLines(join(base, 'dtks.csv'))};
      CREATE TABLE p3ke_line AS ${readLines(join(base, 'p3ke.csv'))};
      CREATE TABLE regsosek AS SELECT row_number() OVER () AS n, * FROM read_parquet(${lit(join(base, 'regsosek.parquet'))});
      CREATE TABLE dtks AS SELECT n, line, string_split(line, ';') AS f FROM dtks_line WHERE n > 1;
      CREATE TABLE p3ke AS SELECT n, line, string_split(line[2:-2], '","') AS f FROM p3ke_line WHERE n > 1;
      -- every record with its person, family, NIK and name
      CREATE TABLE rec AS
      SELECT t.source, t.source_record_id AS id, t.person_id, t.family_id, x.nik, x.name, x.village
      FROM truth t JOIN (
        SELECT 'dtks' AS source, f[1] AS id, f[3] AS nik, f[4] AS name, regexp_replace(f[11], '[^0-9]', '', 'g') AS village FROM dtks
        UNION ALL SELECT 'p3ke', f[1], f[3], upper(f[4]), regexp_replace(f[10], '[^0-9]', '', 'g') FROM p3ke
        UNION ALL SELECT 'regsosek', id_art, nik, upper(nama), kode_desa FROM regsosek
      ) x ON x.source = t.source AND x.id = t.source_record_id;
      CREATE TABLE person_mode AS
      SELECT person_id, arg_max(nik, (n, nik)) AS nik_mode
      FROM (SELECT person_id, nik, count(*) AS n FROM rec WHERE regexp_full_match(nik, '[0-9]{16}') GROUP BY ALL) GROUP BY person_id;
      CREATE TABLE person_name AS
      SELECT person_id, arg_max(name, (n, name)) AS name_mode FROM (SELECT person_id, name, count(*) AS n FROM rec WHERE name <> '' GROUP BY ALL) GROUP BY person_id;
      -- the events, once for all months
      CREATE TABLE fam AS
      SELECT family_id, ${at(u(seed, 'family', 'family_id'), R.new_family, months)} AS registered, ${at(u(seed, 'move', 'family_id'), R.move, months)} AS moved,
             min(village) AS village
      FROM rec GROUP BY family_id;
      CREATE TABLE per AS
      SELECT person_id, ${at(u(seed, 'death', 'person_id'), R.death, months)} AS died,
             CASE WHEN NOT bool_or(id LIKE '%-01' AND source = 'regsosek') THEN ${at(u(seed, 'member', 'person_id'), R.new_member, months)} END AS joined
      FROM rec GROUP BY person_id;
      CREATE TABLE rec_event AS
      SELECT r.source, r.id, r.person_id, r.family_id,
             CASE WHEN r.source = 'dtks' THEN ${at(u(seed, 'withdraw', 'r.id'), R.dtks_withdrawn, months)} END AS withdrawn,
             CASE WHEN r.source IN ('dtks', 'p3ke') AND regexp_full_match(r.nik, '[0-9]{16}') AND r.nik <> pm.nik_mode THEN ${at(u(seed, 'nikfix', 'r.id'), R.correction, months)} END AS nik_fixed,
             pm.nik_mode,
             CASE WHEN r.source = 'dtks' AND r.name <> pn.name_mode THEN ${at(u(seed, 'namefix', 'r.id'), R.correction, months)} END AS name_fixed,
             pn.name_mode
      FROM rec r LEFT JOIN person_mode pm USING (person_id) LEFT JOIN person_name pn USING (person_id);
      -- where a family moves: another DTKS village, of its district if there is one, else of its regency, province, anywhere
      CREATE TABLE village AS
      SELECT regexp_replace(f[11], '[^0-9]', '', 'g') AS code, arg_min([f[12], f[13], f[14], f[15]], n) AS names FROM dtks GROUP BY code;
      CREATE TABLE dest AS
      WITH c AS (
        SELECT f.family_id, v.code, v.names,
               CASE WHEN substr(v.code, 1, 6) = substr(f.village, 1, 6) THEN 3 WHEN substr(v.code, 1, 4) = substr(f.village, 1, 4) THEN 2
                    WHEN substr(v.code, 1, 2) = substr(f.village, 1, 2) THEN 1 ELSE 0 END AS near
        FROM fam f JOIN village v ON v.code <> f.village WHERE f.moved IS NOT NULL),
      best AS (SELECT family_id, max(near) AS near FROM c GROUP BY family_id),
      ranked AS (SELECT c.*, row_number() OVER (PARTITION BY c.family_id ORDER BY c.code) AS k, count(*) OVER (PARTITION BY c.family_id) AS nc
                 FROM c JOIN best b ON b.family_id = c.family_id AND c.near = b.near)
      SELECT family_id, code, names FROM ranked WHERE k = 1 + (md5_number(${lit(`${seed}:dest:`)} || family_id) % nc);
      CREATE TABLE decile_delta AS
      SELECT family_id, q AS month, CASE WHEN ${u(seed, 'decile-dir', "family_id || q")} < 0.5 THEN -1 ELSE 1 END AS delta
      FROM fam, range(4, ${months + 1}, 3) t(q) WHERE ${u(seed, 'decile', "family_id || q")} < ${R.decile_quarterly};
    `);
    for (let m = 1; m <= months; m++) {
      const folder = join(opts.out, `month-${pad2(m)}`);
      await mkdir(folder, { recursive: true });
      const upd = (col: string) => `strftime(${col}, '%d-%m-%Y')`;
      await db.run(`
        CREATE OR REPLACE TABLE present AS
        SELECT e.* FROM rec_event e JOIN fam f USING (family_id) JOIN per p USING (person_id)
        WHERE (f.registered IS NULL OR f.registered <= ${m}) AND (p.died IS NULL OR p.died > ${m}) AND (p.joined IS NULL OR p.joined <= ${m})
          AND (e.withdrawn IS NULL OR e.withdrawn > ${m});
        CREATE OR REPLACE TABLE state AS
        SELECT p.source, p.id, p.person_id, p.family_id,
               CASE WHEN p.nik_fixed <= ${m} THEN p.nik_mode END AS nik,
               CASE WHEN p.name_fixed <= ${m} THEN p.name_mode END AS name,
               CASE WHEN f.moved <= ${m} THEN d.code END AS village, d.names AS village_names,
               CASE WHEN f.moved <= ${m} THEN DATE '2026-04-15' + to_days(CAST(((f.moved - 1) * 150) // ${Math.max(1, months - 1)} AS INTEGER)) END AS updated,
               coalesce((SELECT sum(delta) FROM decile_delta x WHERE x.family_id = p.family_id AND x.month <= ${m}), 0) AS decile_delta
        FROM present p JOIN fam f USING (family_id) LEFT JOIN dest d USING (family_id);`);
      const dtksOut = `
        SELECT d.n, CASE WHEN s.nik IS NULL AND s.name IS NULL AND s.village IS NULL THEN d.line ELSE array_to_string(
          [d.f[1], d.f[2], coalesce(s.nik, d.f[3]), coalesce(s.name, d.f[4])] || d.f[5:9] ||
          [CASE WHEN s.village IS NOT NULL THEN 'JALAN BARU RT ' || (1 + md5_number(s.id) % 9) || ' RW ' || (1 + md5_number(s.id) % 5) ELSE d.f[10] END,
           CASE WHEN s.village IS NOT NULL THEN s.village[1:2] || '.' || s.village[3:4] || '.' || s.village[5:6] || '.' || s.village[7:10] ELSE d.f[11] END] ||
          CASE WHEN s.village IS NOT NULL THEN s.village_names ELSE d.f[12:15] END ||
          d.f[16:19] || [CASE WHEN s.village IS NOT NULL THEN ${upd('s.updated')} ELSE d.f[20] END] || d.f[21:], ';') END AS line
        FROM dtks d JOIN state s ON s.source = 'dtks' AND s.id = d.f[1]`;
      const p3keOut = `
        SELECT p.n, CASE WHEN s.nik IS NULL AND s.village IS NULL AND s.decile_delta = 0 THEN p.line ELSE '"' || array_to_string(
          p.f[1:2] || [coalesce(s.nik, p.f[3])] || p.f[4:6] ||
          CASE WHEN s.village IS NOT NULL THEN ['Jalan Baru', (1 + md5_number(s.id) % 9)::VARCHAR, (1 + md5_number(s.id) % 5)::VARCHAR,
            s.village[1:2] || '.' || s.village[3:4] || '.' || s.village[5:6] || '.' || s.village[7:10]] ELSE p.f[7:10] END ||
          [CASE WHEN s.decile_delta <> 0 AND regexp_full_match(p.f[11], '[0-9]+') THEN least(4, greatest(1, p.f[11]::INTEGER + s.decile_delta))::VARCHAR ELSE p.f[11] END] ||
          p.f[12:], '","') || '"' END AS line
        FROM p3ke p JOIN state s ON s.source = 'p3ke' AND s.id = p.f[1]`;
      const tmp = (name: string) => join(folder, `.tmp-${process.pid}-${name}`);
      await db.run(`
        COPY (SELECT line FROM (SELECT 0 AS n, line FROM dtks_line WHERE n = 1 UNION ALL ${dtksOut}) ORDER BY n) TO ${lit(tmp('dtks.csv'))} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER ${lit(SEP)});
        COPY (SELECT line FROM (SELECT 0 AS n, line FROM p3ke_line WHERE n = 1 UNION ALL ${p3keOut}) ORDER BY n) TO ${lit(tmp('p3ke.csv'))} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER ${lit(SEP)});
        COPY (SELECT r.* EXCLUDE (n) REPLACE (CASE WHEN s.decile_delta <> 0 AND r.desil IS NOT NULL THEN least(10, greatest(1, r.desil + s.decile_delta))::INTEGER ELSE r.desil END AS desil)
              FROM regsosek r JOIN state s ON s.source = 'regsosek' AND s.id = r.id_art ORDER BY r.n) TO ${lit(tmp('regsosek.parquet'))} (FORMAT parquet, COMPRESSION zstd);
        COPY (SELECT t.* FROM truth t SEMI JOIN present p ON p.source = t.source AND p.id = t.source_record_id ORDER BY t.source, t.source_record_id) TO ${lit(tmp('truth.csv'))} (FORMAT csv, HEADER true);
      `);
      // this month's events, by record
      const prevPresent = m === 1 ? 'SELECT * FROM present WHERE false' : 'SELECT * FROM prev_present';
      await db.run(`
        CREATE OR REPLACE TABLE month_event AS
        SELECT * FROM (
          SELECT CASE WHEN f.registered = ${m} THEN 'new_family' WHEN x.joined = ${m} THEN 'new_member' ELSE 'record_added' END AS event, p.source, p.id AS source_record_id, p.person_id, p.family_id
          FROM present p JOIN fam f USING (family_id) JOIN per x USING (person_id) ANTI JOIN (${prevPresent}) q ON q.source = p.source AND q.id = p.id
          WHERE ${m} > 1
          UNION ALL
          SELECT CASE WHEN x.died = ${m} THEN 'death' WHEN q.withdrawn = ${m} THEN 'dtks_withdrawn' ELSE 'record_removed' END, q.source, q.id, q.person_id, q.family_id
          FROM (${prevPresent}) q JOIN per x USING (person_id) ANTI JOIN present p ON p.source = q.source AND p.id = q.id
          UNION ALL SELECT 'nik_corrected', source, id, person_id, family_id FROM present WHERE nik_fixed = ${m}
          UNION ALL SELECT 'name_corrected', source, id, person_id, family_id FROM present WHERE name_fixed = ${m}
          UNION ALL SELECT 'moved', p.source, p.id, p.person_id, p.family_id FROM present p JOIN fam f USING (family_id) JOIN dest USING (family_id) WHERE f.moved = ${m} AND p.source <> 'regsosek'
          UNION ALL SELECT 'decile_changed', p.source, p.id, p.person_id, p.family_id FROM present p JOIN decile_delta d ON d.family_id = p.family_id AND d.month = ${m} WHERE p.source <> 'dtks'
        ) ORDER BY event, source, source_record_id;
        COPY month_event TO ${lit(tmp('events.csv'))} (FORMAT csv, HEADER true);`);
      const { rename } = await import('node:fs/promises');
      for (const f of ['dtks.csv', 'p3ke.csv', 'regsosek.parquet', 'truth.csv', 'events.csv']) await rename(tmp(f), join(folder, f));
      const counts = await db.all<{ source: string; n: string }>(`SELECT source, count(*) AS n FROM present GROUP BY ALL`);
      const rc = Object.fromEntries(counts.map((c) => [c.source, Number(c.n)]));
      const persons = await db.count(`SELECT count(DISTINCT person_id) FROM present`);
      const newPersons = m === 1 ? persons : await db.count(`SELECT count(*) FROM (SELECT DISTINCT person_id FROM present EXCEPT SELECT DISTINCT person_id FROM prev_present)`);
      const gone = m === 1 ? 0 : await db.count(`SELECT count(*) FROM (SELECT DISTINCT person_id FROM prev_present EXCEPT SELECT DISTINCT person_id FROM present)`);
      const ev = await db.all<{ event: string; n: string }>(`SELECT event, count(*) AS n FROM month_event GROUP BY ALL ORDER BY event`);
      await db.run(`CREATE OR REPLACE TABLE prev_present AS SELECT * FROM present`);
      const fig: MonthFigures = {
        month: m,
        folder,
        persons,
        records: { dtks: rc.dtks ?? 0, regsosek: rc.regsosek ?? 0, p3ke: rc.p3ke ?? 0 },
        new_persons: newPersons,
        gone_persons: gone,
        events: Object.fromEntries(ev.map((e) => [e.event, Number(e.n)])),
      };
      figures.push(fig);
      await writeFileAtomic(join(folder, 'manifest.json'), `${JSON.stringify({ seed, months, rates: MONTHLY_RATES, ...fig }, null, 2)}\n`);
      opts.onProgress?.('months', m, months);
    }
  } finally {
    await db.close();
  }
  await writeFileAtomic(join(opts.out, 'series.json'), `${JSON.stringify({ seed, months, persons: opts.persons, rates: MONTHLY_RATES, population: base, months_figures: figures }, null, 2)}\n`);
  await rm(join(base, 'regsosek.tsv'), { force: true });
  return figures;
}
