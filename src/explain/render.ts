/** Text rendering of explanations: the match-weight waterfall of a pair, and the person tree of a record. */
import { printTable } from '../engine/text-table.ts';
import type { PairExplanation } from './pair.ts';
import { FAMILY_SUPPORT_LEVELS } from '../linkage/family-support.ts';
import type { Member, RecordExplanation } from './record.ts';

const BAR_WIDTH = 40;

/** Bits with a sign and 6 decimals (weights are exact in the JSON output). */
export function bits(v: number): string {
  return `${v >= 0 ? '+' : '-'}${Math.abs(v).toFixed(6)}`;
}

/** A probability in full (the shortest text that reads back as the same double). */
export function prob(v: number): string {
  return String(v);
}

/**
 * One bar per step of a running sum, on a common axis from the lowest to the highest running value (0
 * included): '+' spans a step up, '-' a step down, '|' marks zero.
 */
export function waterfallBars(steps: { from: number; to: number }[], width = BAR_WIDTH): { bars: string[]; lo: number; hi: number } {
  const values = steps.flatMap((s) => [s.from, s.to]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const col = (x: number) => (hi === lo ? 0 : Math.round(((x - lo) / (hi - lo)) * width));
  const bars = steps.map((s) => {
    const cells = new Array<string>(width + 1).fill(' ');
    cells[col(0)] = '|';
    if (s.to !== s.from) {
      const [a, b] = [col(Math.min(s.from, s.to)), col(Math.max(s.from, s.to))];
      const ch = s.to > s.from ? '+' : '-';
      // A step too small for one column still gets one mark.
      for (let i = a; i <= Math.max(a, b - 1); i++) cells[i] = ch;
    }
    return cells.join('').trimEnd();
  });
  return { bars, lo, hi };
}

export function renderPair(out: NodeJS.WritableStream, e: PairExplanation): void {
  out.write(`Pair ${e.left.record} ~ ${e.right.record}\n`);
  out.write(
    e.candidate
      ? `  candidate pair: proposed by blocking rule${e.blocking_rules.length === 1 ? '' : 's'} ${e.blocking_rules.join(', ') || '(unknown)'}\n`
      : e.sources_paired
        ? '  not a candidate pair: blocking did not propose it\n'
        : `  not a candidate pair: the batch's linkage.dedupe / linkage.link never pair ${e.left.record.split(':')[0]} with ${e.right.record.split(':')[0]} records\n`,
  );
  out.write(`\nFields${e.values_shown ? '' : ' (values masked: --show-values shows them)'}\n`);
  printTable(
    out,
    Object.keys(e.left.fields).map((f) => ({ field: f, [e.left.record]: e.left.fields[f] ?? '', [e.right.record]: e.right.fields[f] ?? '' })),
    ['field', e.left.record, e.right.record],
  );

  const steps = [{ from: 0, to: e.prior.weight }];
  let prev = e.prior.weight;
  for (const c of e.comparisons) {
    steps.push({ from: prev, to: c.running });
    prev = c.running;
  }
  const competition = e.family_context?.competition ?? 0;
  if (e.family_context) steps.push({ from: prev, to: prev - competition });
  const afterCompetition = prev - competition;
  const support = e.family_support?.weight ?? 0;
  if (e.family_support) steps.push({ from: afterCompetition, to: afterCompetition + support });
  const { bars, lo, hi } = waterfallBars(steps);
  const scale = `${lo.toFixed(1)} .. ${hi.toFixed(1)} bits`;
  const rows: Record<string, unknown>[] = [
    { term: 'prior', gamma: '', level: `lambda = ${e.prior.lambda}`, weight: bits(e.prior.weight), 'tf adj': '', running: bits(e.prior.weight), [scale]: bars[0] },
    ...e.comparisons.map((c, i) => ({
      term: c.comparison,
      gamma: String(c.gamma),
      level: c.level,
      weight: bits(c.weight),
      'tf adj': c.tf_adjustment === null ? '' : bits(c.tf_adjustment),
      running: bits(c.running),
      [scale]: bars[i + 1],
    })),
    ...(e.family_context
      ? [{ term: 'competitors', gamma: '', level: 'pairs sharing a record in the two families', weight: bits(-competition), 'tf adj': '', running: bits(prev - competition), [scale]: bars[e.family_support ? bars.length - 2 : bars.length - 1] }]
      : []),
    ...(e.family_support
      ? [{
          term: 'family support',
          gamma: '',
          level: FAMILY_SUPPORT_LEVELS[e.family_support.status],
          weight: bits(support),
          'tf adj': '',
          running: bits(afterCompetition + support),
          [scale]: bars[bars.length - 1],
        }]
      : []),
  ];
  out.write(
    e.family_context
      ? '\nMatch weight (bits): a running sum from the prior — scored in the family context (its two families are linked by\nanother pair of their members): the family model\'s prior and u, less the odds of the competing pairs\n'
      : '\nMatch weight (bits): a running sum from the prior\n',
  );
  printTable(out, rows, ['term', 'gamma', 'level', 'weight', 'tf adj', 'running', scale]);
  out.write(`total match weight  ${bits(e.match_weight)} bits\n`);

  const yes = (b: boolean) => (b ? 'yes' : 'no');
  out.write(`\nmatch probability   ${prob(e.match_probability)}\n`);
  out.write(`threshold           ${e.threshold} (${bits(Math.log2(e.threshold / (1 - e.threshold)))} bits): ${e.over_threshold ? 'over' : 'under'}\n`);
  out.write(`hard negative       ${yes(e.hard_negative)}\n`);
  out.write(`links the records   ${e.linkable ? 'yes' : `no (${e.over_threshold ? 'a hard negative' : 'under the threshold'})`}\n`);
  out.write(
    `same person         ${e.same_person ? `yes: both in ${e.left.dtsen_id}` : `no: ${e.left.dtsen_id ?? '-'} and ${e.right.dtsen_id ?? '-'}`}\n`,
  );
  if (!e.stored) out.write('stored row          none: the pair is not in scored_pairs\n');
  else if (e.stored.differing.length === 0) {
    out.write(`stored row          identical: all ${e.stored.columns.length} values shared with scored_pairs are equal (match_weight ${e.stored.match_weight}, match_probability ${prob(e.stored.match_probability)})\n`);
  } else {
    out.write(`stored row          DIFFERS in ${e.stored.differing.join(', ')} (stored match_weight ${e.stored.match_weight}, match_probability ${prob(e.stored.match_probability)})\n`);
  }
}

function memberLine(m: Member, showValues: boolean): string {
  const link = m.link_probability === null ? '' : `  link p ${prob(m.link_probability)}, w ${bits(m.link_weight ?? 0)}`;
  const values = showValues ? `  [${m.nik ?? '-'} ${m.name ?? '-'}]` : '';
  return `${m.record}${values}${link}`;
}

/** The spanning tree as an indented outline, children by strongest link first. */
/** At most this many members or tree lines are printed as text (a person of thousands of records is a failure to look at in JSON). */
export const MAX_TEXT_MEMBERS = 500;

export function treeLines(e: RecordExplanation, maxLines = MAX_TEXT_MEMBERS): string[] {
  const children = new Map<string, Member[]>();
  for (const m of e.members) {
    if (m.parent === null) continue;
    children.set(m.parent, [...(children.get(m.parent) ?? []), m]);
  }
  const root = e.members.find((m) => m.depth === 0);
  if (!root) return [];
  const lines: string[] = [memberLine(root, e.values_shown)];
  const walk = (node: Member, prefix: string) => {
    const kids = (children.get(node.record) ?? []).sort((a, b) => (b.link_probability ?? 0) - (a.link_probability ?? 0) || a.record.localeCompare(b.record));
    kids.forEach((k, i) => {
      if (lines.length >= maxLines) return;
      const last = i === kids.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${memberLine(k, e.values_shown)}`);
      walk(k, `${prefix}${last ? '    ' : '│   '}`);
    });
  };
  walk(root, '');
  if (lines.length >= maxLines) lines.push(`… (${e.members.length} records in all; --json lists every one)`);
  return lines;
}

export function renderRecord(out: NodeJS.WritableStream, e: RecordExplanation): void {
  const others = e.members.length - 1;
  out.write(`Record ${e.record} is in person ${e.dtsen_id}`);
  out.write(others === 0 ? ', alone: no link holds it to another record\n' : ` with ${others} other record${others === 1 ? '' : 's'}\n`);
  out.write(`\nMembers${e.values_shown ? '' : ' (values masked: --show-values shows NIK and name)'}\n`);
  const cols = ['record', 'match_probability', 'depth', 'via', ...(e.values_shown ? ['nik', 'name'] : [])];
  printTable(
    out,
    e.members.slice(0, MAX_TEXT_MEMBERS).map((m) => ({
      record: m.record === e.record ? `${m.record} (this)` : m.record,
      match_probability: prob(m.match_probability),
      depth: m.depth === null ? 'not reached' : String(m.depth),
      via: m.parent ?? '',
      nik: m.nik ?? '',
      name: m.name ?? '',
    })),
    cols,
  );
  if (e.members.length > MAX_TEXT_MEMBERS) out.write(`… ${e.members.length} records in all; --json lists every one\n`);
  if (others > 0) {
    out.write(`\nLinks touching this record (${e.links_touching.length} of the person's ${e.links_in_person} links; threshold ${e.threshold}, hard negatives excluded)\n`);
    printTable(
      out,
      e.links_touching.slice(0, MAX_TEXT_MEMBERS).map((l) => ({ other: l.record_l === e.record ? l.record_r : l.record_l, match_weight: bits(l.match_weight), match_probability: prob(l.match_probability) })),
      ['other', 'match_weight', 'match_probability'],
    );
    out.write('\nPaths: a spanning tree of the person\'s links, grown from this record\n');
    out.write(`${treeLines(e).join('\n')}\n`);
  }
  if (e.nearest_not_linked.length) {
    out.write('\nClosest scored pairs that do not link it\n');
    printTable(
      out,
      e.nearest_not_linked.map((n) => ({ other: n.record, dtsen_id: n.dtsen_id ?? '', match_weight: bits(n.match_weight), match_probability: prob(n.match_probability), why: n.reason === 'below the threshold' && n.hard_negative ? 'below the threshold; a hard negative' : n.reason })),
      ['other', 'dtsen_id', 'match_weight', 'match_probability', 'why'],
    );
  }
}
