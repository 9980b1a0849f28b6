/** Printing of the quality figures (dtsen run, dtsen evaluate) and of the blocking report (dtsen blocking). */
import type { EvaluationFigures, SkippedEvaluation } from '../stages/evaluate/index.ts';
import { measuredQuality } from '../stages/evaluate/coverage.ts';
import type { BlockingFigures } from '../linkage/blocking.ts';
import type { BatchFigures } from '../pipeline.ts';
import { printTable } from '../engine/text-table.ts';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** The quality figures; for a run whose truth covered too little of the batch, why there are none. */
export function printEvaluation(out: NodeJS.WritableStream, e: EvaluationFigures | SkippedEvaluation): void {
  if (!measuredQuality(e)) {
    out.write(`\nQuality not measured: ${e.quality_not_measured}\n`);
    return;
  }
  const c = e.truth_coverage;
  out.write('\nQuality against the truth file (pairwise)\n');
  out.write(`the truth covers ${c.records_with_truth.toLocaleString('en-US')} of the ${c.accepted_records.toLocaleString('en-US')} accepted records (${pct(c.share)})\n`);
  printTable(
    out,
    [
      { linkage: 'dtsen', precision: e.precision, recall: e.recall, f1: e.f1, predicted_pairs: e.predicted_pairs, true_positive_pairs: e.true_positive_pairs },
      { linkage: 'exact-NIK baseline', precision: e.baseline.precision, recall: e.baseline.recall, f1: e.baseline.f1, predicted_pairs: e.baseline.predicted_pairs, true_positive_pairs: e.baseline.true_positive_pairs },
    ],
    ['linkage', 'precision', 'recall', 'f1', 'predicted_pairs', 'true_positive_pairs'],
  );
  out.write(`true pairs: ${e.true_pairs.toLocaleString('en-US')}; persons whose records form exactly one cluster: ${e.persons_in_exactly_one_cluster.toLocaleString('en-US')} of ${e.persons.toLocaleString('en-US')} (${pct(e.share_persons_exactly_one_cluster)})\n`);
  out.write('\nFalse negatives: true pairs not in one cluster, by where they were lost\n');
  printTable(out, Object.entries(e.false_negatives).map(([where, pairs]) => ({ where, pairs })), ['where', 'pairs']);
  out.write(`\nFalse positives: ${e.false_positives.pairs_linked_across_persons.toLocaleString('en-US')} links between records of different persons (${e.false_positives.same_family.toLocaleString('en-US')} inside one family)\n`);
  printTable(out, e.false_positives.by_source_pair, ['sources', 'pairs']);
  if (e.false_positives.by_pattern.length) {
    out.write('\nWhat they look like (most frequent comparison levels)\n');
    const names = Object.keys(e.false_positives.by_pattern[0].levels);
    printTable(out, e.false_positives.by_pattern.map((p) => ({ ...p.levels, pairs: p.pairs, same_family: p.same_family, mean_weight: p.mean_weight })), [...names, 'pairs', 'same_family', 'mean_weight']);
  }
  if (e.blocking) {
    out.write(`\nBlocking: ${pct(e.blocking.recall)} of the ${e.blocking.true_pairs.toLocaleString('en-US')} true pairs are candidate pairs; share each rule finds\n`);
    printTable(out, e.blocking.by_rule, ['rule', 'true_pairs_found', 'share']);
  }
}

export function printBlocking(out: NodeJS.WritableStream, b: BlockingFigures, truth?: EvaluationFigures['blocking']): void {
  const found = new Map(truth?.by_rule.map((r) => [r.rule, r]) ?? []);
  out.write(`\nBlocking rules (blocks over ${b.max_block_size.toLocaleString('en-US')} records, or over a rule's own cap, are dropped)\n`);
  printTable(
    out,
    b.rules.map((r) => ({ ...r, cap: b.rule_caps[r.rule], ...(truth ? { true_pairs_share: found.get(r.rule)?.share ?? 0 } : {}) })),
    ['rule', 'keys', 'blocks', 'cap', 'capped_blocks', 'capped_records', 'pairs', 'new_pairs', ...(truth ? ['true_pairs_share'] : [])],
  );
  out.write(`candidate pairs: ${b.candidate_pairs.toLocaleString('en-US')}${truth ? `; true pairs found by any rule: ${pct(truth.recall)}` : ''}\n`);
  out.write('\nLargest blocks (the key is personal data: a short hash stands for it)\n');
  printTable(out, b.largest_blocks, ['rule', 'records', 'key_hash']);
  for (const r of b.rules) out.write(`  ${r.rule}: ${r.description}\n`);
}

/** The data-quality gates of validate (validate.field_quality) and the warnings: optional columns missing, low parse rates. */
export function printFieldQuality(out: NodeJS.WritableStream, figures: Pick<Partial<BatchFigures>, 'ingest' | 'validate'>): void {
  const v = figures.validate;
  const rows = v?.field_quality ?? [];
  if (rows.length) {
    out.write('\nField quality (parse rate = parsed / (parsed + rejected); below the floor the batch fails)\n');
    printTable(
      out,
      rows.map((r) => ({ ...r, parse_rate: r.parse_rate === null ? '–' : pct(r.parse_rate), min_parse_rate: pct(r.min_parse_rate) })),
      ['source', 'field', 'column', 'rows', 'parsed', 'missing', 'rejected', 'parse_rate', 'min_parse_rate', 'result'],
    );
  }
  const absent = figures.ingest?.missing_optional_columns ?? [];
  const warnings = [
    ...absent.map((m) => `${m.source} ${m.file}: optional column ${m.column} (field ${m.field}) is missing; the field is empty for the file's rows`),
    ...(v?.quality_warnings ?? []).map((w) => w.message),
  ];
  if (warnings.length) out.write(`\nWarnings\n${warnings.map((w) => `  ! ${w}`).join('\n')}\n`);
}
