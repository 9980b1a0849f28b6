/**
 * Report: report.json (every figure the stages produced) and report.html (the same figures for people).
 * Figures only: no NIK, name or address ever enters the report.
 */
import { join } from 'node:path';
import type { Ctx, Stage } from '../../engine/context.ts';
import { writeFileAtomic } from '../../engine/files.ts';
import { barChart, page, table } from './html.ts';

type Rows = Record<string, unknown>[];

export function buildReport(ctx: Pick<Ctx, 'config' | 'figures'>): { json: Record<string, unknown>; html: string } {
  const f = ctx.figures as Record<string, any>;
  const json = {
    batch: ctx.config.batch,
    snapshot_id: ctx.config.snapshot_id,
    snapshot_date: ctx.config.snapshot_date,
    linkage: { ...ctx.config.linkage },
    ...f,
  };
  const sections: { heading: string; body: string }[] = [];
  const rec: Rows = f.validate?.reconciliation ?? [];
  sections.push({
    heading: 'Input rows and reconciliation',
    body: `${table(rec, ['source', 'rows_read', 'rows_accepted', 'rows_quarantined', 'reconciled'])}
      <p>${rec.every((r) => r.reconciled) ? '<span class="ok">Every source reconciles: rows read = rows accepted + rows quarantined.</span>' : '<span class="bad">A source does not reconcile.</span>'}</p>`,
  });
  const reasons: Rows = f.validate?.quarantine_reasons ?? [];
  sections.push({ heading: 'Quarantine reasons', body: table(reasons, ['source', 'reason', 'rows']) });
  const nik: { source: string; value: string; rows: number }[] = f.normalise?.nik_status ?? [];
  sections.push({
    heading: 'NIK validity per source',
    body: barChart('records by NIK status', nik.map((n) => ({ label: `${n.source} · ${n.value}`, value: n.rows }))) + table(nik, ['source', 'value', 'rows']),
  });
  if (f.link) {
    const blocking = f.link.blocking;
    sections.push({
      heading: 'Linking',
      body: `<p>Engine: ${f.link.engine}; candidate pairs: ${(f.link.candidate_pairs ?? 0).toLocaleString('en-US')}; threshold ${ctx.config.linkage.threshold}.</p>${
        blocking ? table(blocking.rules, ['rule', 'description', 'pairs', 'new_pairs', 'blocks', 'capped_blocks', 'capped_records']) : ''
      }`,
    });
  }
  const sizes: { size: number; clusters: number }[] = f.cluster?.size_distribution ?? [];
  sections.push({ heading: 'Cluster sizes', body: barChart('persons by number of source records', sizes.map((s) => ({ label: `${s.size} record${s.size > 1 ? 's' : ''}`, value: s.clusters }))) });
  const overlap: Rows = f.survive?.source_overlap ?? [];
  sections.push({ heading: 'Coverage and overlap of the sources', body: barChart('persons by the sources they are in', overlap.map((o) => ({ label: String(o.sources), value: Number(o.persons) }))) });
  if (f.evaluate) {
    const e = f.evaluate;
    sections.push({
      heading: 'Quality against the ground truth',
      body: table(
        [
          { method: `dtsen (${f.link?.engine ?? ''})`, precision: e.precision, recall: e.recall, f1: e.f1 },
          { method: 'exact-NIK baseline', precision: e.baseline.precision, recall: e.baseline.recall, f1: e.baseline.f1 },
        ],
        ['method', 'precision', 'recall', 'f1'],
      ) + table([e.false_negatives], ['never_candidate', 'scored_below_threshold', 'split_by_clustering']),
    });
  }
  const timings: Rows = f.timings ?? [];
  sections.push({ heading: 'Stages', body: table(timings, ['stage', 'rows', 'seconds']) });
  return { json, html: page(`DTSEN batch ${ctx.config.batch} — match-quality report`, sections) };
}

export const reportStage: Stage = {
  name: 'report',
  async run(ctx: Ctx) {
    const { json, html } = buildReport(ctx);
    await writeFileAtomic(join(ctx.stagingDir, 'report.html'), html);
    await writeFileAtomic(join(ctx.stagingDir, 'report.json'), `${JSON.stringify(json, null, 2)}\n`);
    return { rows: 2 };
  },
};
