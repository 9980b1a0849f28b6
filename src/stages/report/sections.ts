/**
 * Sections of report.html beyond the stages' own: the run (version, start, duration, inputs, config),
 * completeness per field, families, cluster splits, the largest blocks, the borderline pairs with their
 * `dtsen explain` command, and the model's warnings. Each reads report.json alone and names its paths.
 */
import type { BlockingFigures } from '../../linkage/blocking.ts';
import type { FieldQuality } from '../validate/quality.ts';
import { esc, fmt, table, tiles, type Section } from './html.ts';
import type { ReportJson } from './index.ts';

type Row = Record<string, unknown>;
/** A chart of charts.ts by id, or the text shown when it has no data. */
export type ChartFn = (id: string, title: string, otherwise: string) => string;

const int = (v: number | null | undefined) => fmt(v, 'int');
const paths = (p: Record<string, string>) => `data-paths="${esc(JSON.stringify(p))}"`;
/** A long token (a checksum, a path) that may break anywhere on a narrow screen; `<wbr>` every 8 characters. */
const breakable = (s: string) => esc(s).replace(/([^&;\s]{8})(?=[^\s])/g, '$1<wbr>');
/** A shell word, quoted when it holds anything but safe characters. */
const shellWord = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);

/** The command that explains a pair of a batch. */
export function explainCommand(out: string, left: string, right: string): string {
  return `dtsen explain --out ${shellWord(out)} ${shellWord(left)} ${shellWord(right)}`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min ${Math.round(seconds - m * 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function runSection(json: ReportJson): Section | undefined {
  const run = json.run;
  if (!run) return undefined;
  const inputs = run.inputs
    .map((f) => `<tr><td>${esc(f.role)}</td><td class="code">${breakable(f.path)}</td><td class="num">${int(f.bytes)}</td><td class="code">${breakable(f.sha256)}</td></tr>`)
    .join('');
  return {
    id: 'run',
    heading: 'The run',
    body: `<div ${paths({ run: 'run' })}>${tiles([
      { label: 'dtsen version', value: esc(run.version) },
      { label: 'started (UTC)', value: esc(run.started_at.replace('T', ' ').replace(/\.\d+Z$/, '')) },
      { label: 'duration', value: esc(duration(run.duration_seconds)), note: 'from the start of the batch to the report' },
      { label: 'input files', value: int(run.inputs.length) },
    ])}
      <div class="table-wrap"><table><caption>input files with their size and SHA-256 (run.inputs)</caption><thead><tr><th>input</th><th>file</th><th class="num">bytes</th><th>sha256</th></tr></thead><tbody>${inputs}</tbody></table></div>
      <details><summary>The batch config as run (run.config)</summary><pre class="config">${esc(JSON.stringify(run.config, null, 2))}</pre></details></div>`,
  };
}

/** Per field, the share of each source's accepted rows with a value that parsed. */
export function completenessSection(json: ReportJson): Section | undefined {
  const fq: FieldQuality[] = json.validate?.field_quality ?? [];
  if (!fq.length) return undefined;
  const sources = [...new Set(fq.map((q) => q.source))];
  const fields = [...new Set(fq.map((q) => q.field))];
  const sum = (src: string, f: string, k: 'rows' | 'parsed' | 'missing' | 'rejected') => fq.filter((q) => q.source === src && q.field === f).reduce((a, q) => a + q[k], 0);
  const rows: Row[] = fields.map((f) => ({
    field: f,
    ...Object.fromEntries(sources.map((src) => {
      const n = sum(src, f, 'rows');
      return [src, n ? sum(src, f, 'parsed') / n : null];
    })),
  }));
  return {
    id: 'completeness',
    heading: 'Completeness per field',
    body: `<p class="explain">Per field, the share of each source's accepted rows whose value is present and parsed (parsed / rows of <code>validate.field_quality</code>); the rest is missing or rejected (see the parse rates above). A field a source does not map is shown as –.</p>
      <div class="figure-table" ${paths({ rows: 'validate.field_quality' })}>${table(rows, ['field', ...sources.map((s) => ({ key: s, format: 'pct' as const }))], 'rows with a parsed value, per field and source')}</div>`,
  };
}

export function familiesSection(json: ReportJson, chart: ChartFn): Section | undefined {
  const s = json.survive as (ReportJson['survive'] & { families?: number; largest_family?: number; families_with_several_kks?: number; family_heads_by_basis?: Record<string, number>; decile_by_source?: Record<string, number> }) | undefined;
  if (s?.families === undefined) return undefined;
  const heads = Object.entries(s.family_heads_by_basis ?? {}).map(([basis, families]) => ({ basis, families }));
  const deciles = Object.entries(s.decile_by_source ?? {}).map(([source, persons]) => ({ source, persons }));
  return {
    id: 'families',
    heading: 'Families',
    body: `<p class="explain">Persons joined into families by family-card numbers and source family ids (<code>dtsen_family</code>). A very large family, or families built from several family cards, can mean that one person joined two households (a grown child listed in the old family in one source and in its own in another).</p>
      <div ${paths({ families: 'survive.families', largest_family: 'survive.largest_family', families_with_several_kks: 'survive.families_with_several_kks' })}>${tiles([
        { label: 'families', value: int(s.families) },
        { label: 'members of the largest family', value: int(s.largest_family ?? null) },
        { label: 'families from several family cards', value: int(s.families_with_several_kks ?? null) },
      ])}</div>
      ${chart('family_sizes', 'Families by number of members', 'No families.')}
      ${heads.length ? `<div class="figure-table" ${paths({ rows: 'survive.family_heads_by_basis' })}>${table(heads, ['basis', 'families'], 'how the head was chosen: relation (a record calls the person head) or oldest (no record states a head)')}</div>` : ''}
      ${deciles.length ? `<div class="figure-table" ${paths({ rows: 'survive.decile_by_source' })}>${table(deciles, ['source', 'persons'], 'persons by the source their welfare decile came from')}</div>` : ''}`,
  };
}

interface SplitFigures {
  clusters_checked: number;
  conflicted: number;
  split: number;
  clusters_after_split: number;
  records_moved: number;
  still_flagged: number;
  too_large?: { clusters: number; records: number; largest: number; max_conflict_cluster_size: number };
  by_reason?: Row[];
  tiers?: Row[];
}

export function splitsSection(json: ReportJson): Section | undefined {
  const c = (json.cluster as { conflicts?: SplitFigures } | undefined)?.conflicts;
  if (!c) return undefined;
  return {
    id: 'splits',
    heading: 'Cluster splits',
    body: `<p class="explain">Every cluster of linked records is searched for two records that are plainly different persons (two NIKs, one family's different members, a hard negative). Such a cluster is re-clustered over its stronger links only, tier after tier, until no part holds a conflict; what is left is flagged (<code>cluster_conflicts</code>). A wrong link cut here is no longer in the persons built.</p>
      <div ${paths({ conflicts: 'cluster.conflicts' })}>${tiles([
        { label: 'clusters checked', value: int(c.clusters_checked) },
        { label: 'clusters with a conflict', value: int(c.conflicted) },
        { label: 'clusters split', value: int(c.split), note: `into ${int(c.clusters_after_split)} parts` },
        { label: 'records moved', value: int(c.records_moved) },
        { label: 'conflicts still flagged', value: int(c.still_flagged) },
        ...(c.too_large ? [{ label: 'clusters too large to search', value: int(c.too_large.clusters), note: `over ${int(c.too_large.max_conflict_cluster_size)} records` }] : []),
      ])}
      ${c.by_reason?.length ? table(c.by_reason, ['reason', { key: 'pairs', label: 'conflicting pairs' }, 'split', 'flagged'], 'conflicts by reason (cluster.conflicts.by_reason)') : ''}
      ${c.tiers?.length ? table(c.tiers, [{ key: 'match_weight', label: 'links kept from (bits)' }, { key: 'pieces_reclustered', label: 'parts re-clustered' }], 'split tiers (cluster.conflicts.tiers)') : ''}</div>`,
  };
}

export function blocksSection(json: ReportJson): Section | undefined {
  const b = json.link?.blocking as Partial<Pick<BlockingFigures, 'largest_blocks' | 'max_block_size' | 'rule_caps'>> | undefined;
  if (!b?.largest_blocks?.length) return undefined;
  return {
    id: 'blocks',
    heading: 'Largest blocks',
    body: `<p class="explain">The blocks with the most records (records sharing one blocking key; the key is shown as a hash, never its value). Every pair inside a block is compared, so a block grows the pairs with its square; a block over its rule's cap is dropped and counted under "blocks over the cap" above (cap: <code>linkage.max_block_size</code>, ${int(b.max_block_size ?? null)}, or the rule's own).</p>
      <div class="figure-table" ${paths({ rows: 'link.blocking.largest_blocks' })}>${table(
        b.largest_blocks.map((r) => ({ ...r, cap: b.rule_caps?.[r.rule] ?? null })),
        ['rule', 'records', { key: 'cap', label: 'cap of the rule' }, { key: 'key_hash', label: 'key (hash)' }],
        'largest blocks (link.blocking.largest_blocks)',
      )}</div>`,
  };
}

export function borderlineSection(json: ReportJson): Section | undefined {
  const pairs = json.review?.borderline_pairs;
  if (!pairs) return undefined;
  const out = json.run?.out ?? 'OUT';
  const rows = pairs
    .map(
      (p) =>
        `<tr class="pair"><td>${p.side === 'above' ? 'linked (at or above)' : 'not linked (below)'}</td><td class="id">${esc(p.left)}<br>${esc(p.right)}</td><td class="num">${fmt(p.match_weight, 'dec')}</td><td class="num">${fmt(p.match_probability, 'prob')}</td><td>${fmt(p.same_person)}</td></tr><tr class="command"><td colspan="5" class="code"><code>${breakable(explainCommand(out, p.left, p.right))}</code></td></tr>`,
    )
    .join('');
  return {
    id: 'borderline',
    heading: 'Borderline pairs to look at',
    body: `<p class="explain">The scored pairs closest to the threshold on either side (hard negatives aside): the ones a clerk's review changes most. "One person" says whether the two records ended in one golden record (a pair below the threshold can still be joined through a third record; one above it can be cut by a split). Below each pair is the command that shows the pair's comparisons, weights and values (add <code>--show-values</code> where values may be seen).</p>
      ${pairs.length ? `<div class="table-wrap" ${paths({ rows: 'review.borderline_pairs', out: 'run.out' })}><table><caption>pairs nearest the threshold (review.borderline_pairs)</caption><thead><tr><th>side</th><th>records</th><th class="num">weight (bits)</th><th class="num">probability</th><th>one person</th></tr></thead><tbody>${rows}</tbody></table></div>` : '<p class="none">No scored pairs.</p>'}`,
  };
}

export function modelWarningsSection(json: ReportJson): Section | undefined {
  const w = json.review?.model_warnings;
  if (!w || !json.report.model_levels) return undefined;
  return {
    id: 'model-warnings',
    heading: 'Model warnings',
    body: w.length
      ? `<p class="explain">Levels of the model above that look wrong. A comparison's levels run from the closest agreement to "different": a level weighing less than "different" (or more than the closest agreement) breaks that order, and a pair is punished for agreeing. A level whose m and u are about equal (|log<sub>2</sub>(m/u)| &lt; 0.1 bit) carries no evidence: drawn as two dots on top of each other in the chart above.</p>
      <div class="figure-table" ${paths({ rows: 'review.model_warnings' })}>${table(w, ['comparison', 'level', { key: 'kind', label: 'warning' }, { key: 'match_weight', label: 'weight (bits)', format: 'dec' }, 'message'], 'model warnings (review.model_warnings)')}</div>`
      : '<p class="ok">No warning: every comparison\'s levels keep their order and every level carries some evidence.</p>',
  };
}
