import { describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { clusterRecords, type ConflictOptions } from '../../src/stages/cluster/index.ts';
import { Linkage } from '../../schemas/config.ts';

async function graph(n: number, edges: [number, number, number][]): Promise<Db> {
  const db = await Db.open();
  await db.run(`CREATE TABLE person_clean AS SELECT range + 1 AS rec_id FROM range(${n})`);
  await db.run(`CREATE TABLE scored_pairs (rec_id_l BIGINT, rec_id_r BIGINT, match_probability DOUBLE)`);
  for (const [a, b, p] of edges) await db.run(`INSERT INTO scored_pairs VALUES (${a}, ${b}, ${p})`);
  return db;
}

const clustersOf = async (db: Db) => (await db.all<{ rec_id: string; cluster_id: string }>('SELECT rec_id, cluster_id FROM clusters ORDER BY rec_id')).map((r) => Number(r.cluster_id));

describe('clustering (connected components above the threshold)', () => {
  it('joins a long chain into one cluster, labelled by its smallest record', async () => {
    const chain: [number, number, number][] = Array.from({ length: 39 }, (_, i) => [i + 1, i + 2, 0.99]);
    const db = await graph(41, chain);
    const r = await clusterRecords(db, 0.9);
    const c = await clustersOf(db);
    expect(c.slice(0, 40)).toEqual(new Array(40).fill(1));
    expect(c[40]).toBe(41);
    expect(r.clusters).toBe(2);
  });

  it('keeps two components apart and leaves pairs below the threshold unlinked', async () => {
    const db = await graph(7, [
      [1, 2, 0.95], [2, 3, 0.97], // star-ish component 1-2-3
      [4, 5, 0.99], [5, 6, 0.92], // component 4-5-6
      [3, 4, 0.5], // below threshold: no bridge
    ]);
    await clusterRecords(db, 0.9);
    expect(await clustersOf(db)).toEqual([1, 1, 1, 4, 4, 4, 7]);
    const best = await db.all<{ b: number }>('SELECT best_link_probability AS b FROM clusters ORDER BY rec_id');
    expect(best.map((x) => x.b)).toEqual([0.95, 0.97, 0.97, 0.99, 0.99, 0.92, 1]);
  });

  it('a lower threshold bridges them', async () => {
    const db = await graph(4, [[1, 2, 0.95], [3, 4, 0.95], [2, 3, 0.6]]);
    await clusterRecords(db, 0.5);
    expect(await clustersOf(db)).toEqual([1, 1, 1, 1]);
  });
});

/** A record of person_clean with the columns the conflict check reads; unspecified fields are NULL. */
interface Rec {
  id: number;
  source?: string;
  nik?: string;
  /** decoded date of the NIK; by default the stated birth date (a NIK agreeing with its record) */
  nikDate?: string | null;
  family?: string;
  relation?: number;
  birth?: string;
  sex?: string;
  name?: string;
  dukcapil?: boolean;
}

const q = (v: string | number | boolean | null | undefined) => (v === undefined || v === null ? 'NULL' : typeof v === 'string' ? `'${v}'` : String(v));

/** person_clean + scored_pairs(rec_id_l, rec_id_r, match_weight, match_probability, hard_negative); edges in bits. */
async function population(recs: Rec[], edges: [number, number, number, boolean?][], order: 'asc' | 'desc' = 'asc'): Promise<Db> {
  const db = await Db.open();
  await db.run(`CREATE TABLE person_clean (rec_id BIGINT, source VARCHAR, nik_digits VARCHAR, nik_status VARCHAR, nik_birth_date DATE, family_id VARCHAR,
    relation INTEGER, birth_date DATE, sex VARCHAR, name_norm VARCHAR, name_tokens VARCHAR[], name_phonetic VARCHAR, dukcapil_match BOOLEAN)`);
  const rows = order === 'asc' ? recs : [...recs].reverse();
  for (const r of rows) {
    const name = r.name ?? `PERSON ${r.id}`;
    const nikDate = r.nikDate === undefined ? r.birth : r.nikDate;
    await db.run(`INSERT INTO person_clean VALUES (${r.id}, ${q(r.source ?? 'dtks')}, ${q(r.nik)}, ${q(r.nik ? 'valid' : 'missing')}, ${q(r.nik ? nikDate : null)},
      ${q(r.family)}, ${q(r.relation)}, ${q(r.birth)}, ${q(r.sex)}, ${q(name)}, string_split(${q(name)}, ' '), ${q(name.replaceAll(' ', ''))}, ${q(r.dukcapil)})`);
  }
  await db.run(`CREATE TABLE scored_pairs (rec_id_l BIGINT, rec_id_r BIGINT, match_weight DOUBLE, match_probability DOUBLE, hard_negative BOOLEAN)`);
  const es = order === 'asc' ? edges : [...edges].reverse();
  for (const [a, b, w, hard] of es) {
    const [l, r] = order === 'asc' ? [a, b] : [b, a];
    await db.run(`INSERT INTO scored_pairs VALUES (${l}, ${r}, ${w}, ${1 / (1 + 2 ** -w)}, ${hard ?? false})`);
  }
  return db;
}

const defaults = Linkage.parse({});
const opts: ConflictOptions = { split: true, tiers: defaults.split_tiers, maxClusterSize: defaults.max_conflict_cluster_size };

const conflictsOf = async (db: Db) =>
  db.all<{ rec_id_l: string | null; rec_id_r: string | null; reason: string; outcome: string }>(
    `SELECT rec_id_l::VARCHAR AS rec_id_l, rec_id_r::VARCHAR AS rec_id_r, reason, outcome FROM cluster_conflicts ORDER BY cluster_id_l, rec_id_l NULLS FIRST, rec_id_r`);

// Two persons of three records each, joined by one weak link between records 3 and 4.
const A = '3201014508850001';
const B = '3201011203900002';
const chain: Rec[] = [
  { id: 1, source: 'dtks', nik: A, birth: '1985-08-05', name: 'SITI AMINAH' },
  { id: 2, source: 'regsosek', nik: A, birth: '1985-08-05', name: 'SITI AMINAH' },
  { id: 3, source: 'p3ke', birth: '1985-08-05', name: 'SITI AMINAH' },
  { id: 4, source: 'dtks', nik: B, birth: '1990-03-12', name: 'SITI AMINAH' },
  { id: 5, source: 'regsosek', nik: B, birth: '1990-03-12', name: 'SITI AMINAH' },
  { id: 6, source: 'p3ke', birth: '1990-03-12', name: 'SITI AMINAH' },
];
const chainLinks: [number, number, number][] = [[1, 2, 30], [2, 3, 12], [1, 3, 11], [4, 5, 30], [5, 6, 12], [3, 4, 7.5]];

describe('protection against chaining', () => {
  it('splits a chain of two persons with conflicting NIKs at its weak link', async () => {
    const db = await population(chain, chainLinks);
    const r = await clusterRecords(db, 0.99, opts);
    expect(await clustersOf(db)).toEqual([1, 1, 1, 4, 4, 4]);
    expect(r.conflicts).toMatchObject({ clusters_checked: 1, conflicted: 1, split: 1, clusters_after_split: 2, records_moved: 3, still_flagged: 0 });
    expect(r.conflicts!.by_reason.find((x) => x.reason === 'nik')).toEqual({ reason: 'nik', pairs: 4, split: 4, flagged: 0 });
    expect((await conflictsOf(db)).every((c) => c.reason === 'nik' && c.outcome === 'split')).toBe(true);
    // The best link of record 3 is now inside its own person: the weak bridge no longer counts.
    const best = await db.all<{ b: number }>('SELECT best_link_probability AS b FROM clusters WHERE rec_id IN (3, 4) ORDER BY rec_id');
    expect(best.map((x) => x.b)).toEqual([1 / (1 + 2 ** -12), 1 / (1 + 2 ** -30)]);
  });

  it('leaves no working table behind, also when it fails half way', async () => {
    const tables = async (db: Db) => (await db.all<{ t: string }>(`SELECT table_name AS t FROM duckdb_tables() ORDER BY t`)).map((r) => r.t);
    const db = await population(chain, chainLinks);
    await clusterRecords(db, 0.99, opts);
    expect(await tables(db)).toEqual(['cluster_conflicts', 'clusters', 'person_clean', 'scored_pairs']);
    // a column the conflict check reads is gone: the check fails after the edges and components were made
    await db.run('DROP TABLE clusters; DROP TABLE cluster_conflicts; ALTER TABLE person_clean DROP COLUMN name_tokens');
    await expect(clusterRecords(db, 0.99, opts)).rejects.toThrow(/name_tokens/);
    expect(await tables(db)).toEqual(['person_clean', 'scored_pairs']);
  });

  it('a record cut off by a tier returns to the person it is most strongly linked to', async () => {
    // Record 7 hangs on record 6 by a link under the first tier: it returns to person B, not stays alone.
    const recs = [...chain, { id: 7, source: 'dtks', birth: '1990-03-12', name: 'SITI AMINAH' }];
    const db = await population(recs, [...chainLinks, [6, 7, 8], [3, 7, 7]]);
    await clusterRecords(db, 0.99, opts);
    expect(await clustersOf(db)).toEqual([1, 1, 1, 4, 4, 4, 4]);
  });

  it('leaves a cluster without conflict untouched', async () => {
    // One person, a NIK typed wrong in one digit in one record, another record carrying a relative's NIK
    // (its date disagrees with the stated birth date): neither is evidence of a second person.
    const recs: Rec[] = [
      { id: 1, source: 'dtks', nik: A, birth: '1985-08-05', dukcapil: true },
      { id: 2, source: 'regsosek', nik: '3201014508850007', birth: '1985-08-05' },
      { id: 3, source: 'p3ke', nik: B, nikDate: '1990-03-12', birth: '1985-08-05' },
      { id: 4, source: 'p3ke', birth: '1985-08-05' },
    ];
    const db = await population(recs, [[1, 2, 8], [2, 3, 7], [3, 4, 7], [1, 4, 9]]);
    const r = await clusterRecords(db, 0.99, opts);
    expect(await clustersOf(db)).toEqual([1, 1, 1, 1]);
    expect(r.conflicts).toMatchObject({ clusters_checked: 1, conflicted: 0, split: 0, records_moved: 0, still_flagged: 0 });
    expect(await conflictsOf(db)).toEqual([]);
  });

  it('splits two records of one source family that state different relations', async () => {
    const recs: Rec[] = [
      { id: 1, source: 'regsosek', family: 'regsosek:F1', relation: 1, birth: '1960-01-01', name: 'BUDI' },
      { id: 2, source: 'dtks', birth: '1960-01-01', name: 'BUDI' },
      { id: 3, source: 'regsosek', family: 'regsosek:F1', relation: 3, birth: '1960-01-01', name: 'BUDI' },
    ];
    const db = await population(recs, [[1, 2, 20], [2, 3, 9]]);
    await clusterRecords(db, 0.99, opts);
    expect(await clustersOf(db)).toEqual([1, 1, 3]);
    expect(await conflictsOf(db)).toEqual([{ rec_id_l: '1', rec_id_r: '3', reason: 'family', outcome: 'split' }]);
  });

  it('never leaves a hard negative in one person, however strong the chain around it', async () => {
    // Twins 1 and 3 (a hard negative) are both strongly linked to record 2: the tiers cut at the weaker link.
    const recs: Rec[] = [
      { id: 1, source: 'dtks', birth: '2001-02-03', name: 'HASAN' },
      { id: 2, source: 'p3ke', birth: '2001-02-03', name: 'HASAN' },
      { id: 3, source: 'regsosek', birth: '2001-02-03', name: 'HUSEIN' },
    ];
    const db = await population(recs, [[1, 2, 28], [2, 3, 27], [1, 3, 15, true]]);
    const r = await clusterRecords(db, 0.99, opts);
    expect(await clustersOf(db)).toEqual([1, 1, 3]);
    expect(r.conflicts!.by_reason.find((x) => x.reason === 'hard_negative')).toEqual({ reason: 'hard_negative', pairs: 1, split: 1, flagged: 0 });
    expect(r.conflicts!.tiers.map((t) => t.match_weight)).toEqual([10, 14, 18, 22, 26, 30]);
  });

  it('only flags the conflicts of reasons left out of split_reasons', async () => {
    const recs: Rec[] = [
      { id: 1, source: 'dtks', birth: '2001-02-03', name: 'HASAN' },
      { id: 2, source: 'p3ke', birth: '2001-02-03', name: 'HASAN' },
      { id: 3, source: 'regsosek', birth: '2001-02-03', name: 'HUSEIN' },
    ];
    const db = await population(recs, [[1, 2, 28], [2, 3, 12], [1, 3, 15, true]]);
    const r = await clusterRecords(db, 0.99, { ...opts, reasons: ['nik', 'family'] });
    expect(await clustersOf(db)).toEqual([1, 1, 1]);
    expect(await conflictsOf(db)).toEqual([{ rec_id_l: '1', rec_id_r: '3', reason: 'hard_negative', outcome: 'flagged' }]);
    expect(r.conflicts).toMatchObject({ conflicted: 1, split: 0, still_flagged: 1, tiers: [] });
  });

  it('flags what the tiers cannot separate, and only flags when splitting is off', async () => {
    // Records 2 and 4 are joined by a link stronger than the last tier: the conflict stays, flagged.
    const strong: [number, number, number][] = [[1, 2, 40], [2, 3, 12], [1, 3, 11], [4, 5, 40], [5, 6, 12], [2, 4, 40]];
    const db = await population(chain, strong);
    const r = await clusterRecords(db, 0.99, opts);
    expect(await clustersOf(db)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(r.conflicts).toMatchObject({ conflicted: 1, split: 0, still_flagged: 1 });
    expect((await conflictsOf(db)).every((c) => c.outcome === 'flagged')).toBe(true);
    expect((await db.all<{ c: boolean }>('SELECT DISTINCT conflicted AS c FROM clusters')).map((x) => x.c)).toEqual([true]);

    const off = await population(chain, chainLinks);
    const f = await clusterRecords(off, 0.99, { ...opts, split: false });
    expect(await clustersOf(off)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(f.conflicts).toMatchObject({ conflicted: 1, split: 0, still_flagged: 1, tiers: [] });
  });

  it('caps the pair search at max_conflict_cluster_size and reports the cluster', async () => {
    const db = await population(chain, chainLinks);
    const r = await clusterRecords(db, 0.99, { ...opts, maxClusterSize: 5 });
    expect(await clustersOf(db)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(r.conflicts).toMatchObject({ clusters_checked: 0, conflicted: 0, still_flagged: 1, too_large: { clusters: 1, records: 6, largest: 6, max_conflict_cluster_size: 5 } });
    expect(await conflictsOf(db)).toEqual([{ rec_id_l: null, rec_id_r: null, reason: 'too_large', outcome: 'flagged' }]);
  });

  it('still splits the hard negatives of a cluster too large to be searched pair by pair', async () => {
    const db = await population(chain, [...chainLinks, [3, 6, 5, true]]);
    const r = await clusterRecords(db, 0.99, { ...opts, maxClusterSize: 5 });
    expect(await clustersOf(db)).toEqual([1, 1, 1, 4, 4, 4]);
    expect(await conflictsOf(db)).toEqual([
      { rec_id_l: null, rec_id_r: null, reason: 'too_large', outcome: 'flagged' },
      { rec_id_l: '3', rec_id_r: '6', reason: 'hard_negative', outcome: 'split' },
      { rec_id_l: null, rec_id_r: null, reason: 'too_large', outcome: 'flagged' },
    ]);
    expect(r.conflicts).toMatchObject({ clusters_checked: 0, conflicted: 1, split: 1, still_flagged: 2, too_large: { clusters: 1, records: 6 } });
  });

  it('gives the same result whatever the order of the rows', async () => {
    const recs = [...chain, { id: 7, source: 'dtks', birth: '1990-03-12', name: 'SITI AMINAH' }];
    // Record 7 has links of equal weight into both persons: the tie goes to the smaller cluster id.
    const links: [number, number, number][] = [...chainLinks, [6, 7, 8], [3, 7, 8]];
    const results = [];
    for (const order of ['asc', 'desc'] as const) {
      const db = await population(recs, links, order);
      await clusterRecords(db, 0.99, opts);
      results.push({ clusters: await db.all('SELECT * FROM clusters ORDER BY rec_id'), conflicts: await conflictsOf(db) });
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[0].clusters.map((c) => Number((c as { cluster_id: bigint }).cluster_id))).toEqual([1, 1, 1, 4, 4, 4, 1]);
  });

  it('rejects tiers that are not ascending', () => {
    expect(() => Linkage.parse({ split_tiers: [14, 10] })).toThrow(/ascending/);
  });
});
