import { describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { clusterRecords } from '../../src/stages/cluster/index.ts';

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
