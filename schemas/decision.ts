/**
 * The decisions store: one JSON object a line, appended, never rewritten (`dtsen decide` appends one). Every
 * batch applies every decision of the store (src/register/decisions.ts).
 *
 * - same_person: the two records are one person; clustering always links them.
 * - different_persons: the two records are two persons; neither the model nor clustering ever puts them in one.
 * - field_value: the golden record of a person (named by one of its records, `source:source_record_id`, or by a
 *   dtsen_id, also a retired one) takes this value for the field, whatever survivorship would choose.
 * - unsure: a reviewer looked at the pair and could not tell; kept in the store (and counted), never applied.
 * Each carries its reference (the usul/sanggah or groundcheck number), author, date and reason; a decision made in
 * the review app (`dtsen review`) also says where: the queue it came from and what the batch had made of it.
 */
import { z } from 'zod';
import { SOURCES } from './canonical.ts';

/** `source:source_record_id`, the source's own record id unchanged */
export const RecordRef = z
  .string()
  .regex(new RegExp(`^(${SOURCES.join('|')}):.+$`), `a record as SOURCE:ID, SOURCE one of ${SOURCES.join(', ')}`);
/** a person: one of its records, or a dtsen_id (DT + 16 hex digits) */
export const PersonRef = z.union([RecordRef, z.string().regex(/^DT[0-9A-F]{16}$/, 'a dtsen_id (DT + 16 upper-case hex digits)')]);

/** The golden-record fields a field_value decision may set, with how its value is checked and typed in SQL. */
export const DECIDABLE_FIELDS = {
  nik: { type: 'VARCHAR', check: /^\d{16}$/, expected: '16 digits' },
  name: { type: 'VARCHAR', check: /^\S.*$/, expected: 'a name' },
  birth_date: { type: 'DATE', check: /^\d{4}-\d{2}-\d{2}$/, expected: 'a date YYYY-MM-DD' },
  sex: { type: 'VARCHAR', check: /^[LP]$/, expected: "'L' or 'P'" },
  village_code: { type: 'VARCHAR', check: /^\d{10}$/, expected: 'a 10-digit Kemendagri village code' },
  no_kk: { type: 'VARCHAR', check: /^\d{16}$/, expected: '16 digits' },
  decile: { type: 'INTEGER', check: /^([1-9]|10)$/, expected: 'a decile 1..10' },
  pkh: { type: 'BOOLEAN', check: /^(true|false)$/, expected: 'true or false' },
  bpnt: { type: 'BOOLEAN', check: /^(true|false)$/, expected: 'true or false' },
  pbi_jkn: { type: 'BOOLEAN', check: /^(true|false)$/, expected: 'true or false' },
} as const;
export type DecidableField = keyof typeof DECIDABLE_FIELDS;
const FIELD_NAMES = Object.keys(DECIDABLE_FIELDS) as [DecidableField, ...DecidableField[]];

const common = {
  /** the usul/sanggah number, groundcheck form or ticket that records the decision */
  reference: z.string().min(1, 'a reference (e.g. the usul/sanggah number) is needed'),
  author: z.string().min(1, 'an author is needed'),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD'),
  reason: z.string().min(1, 'a reason is needed'),
  /** written by `dtsen review`: the queue the decision came from, and the batch's call on it at the time */
  review: z
    .object({
      queue: z.enum(['pairs', 'clusters', 'persons', 'decisions', 'search']),
      /** the records were in one person (`same`) or not (`different`) in the batch reviewed; absent for field values */
      model: z.enum(['same', 'different']).optional(),
      /** the reviewed batch's match probability of the pair, where it scored it */
      match_probability: z.number().min(0).max(1).optional(),
      /** when the reviewer decided (ISO 8601, UTC) */
      at: z.iso.datetime().optional(),
    })
    .strict()
    .optional(),
};

const pair = z
  .tuple([RecordRef, RecordRef])
  .refine(([a, b]) => a !== b, { message: 'the two records must differ' });

export const Decision = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('same_person'), records: pair, ...common }).strict(),
  z.object({ kind: z.literal('different_persons'), records: pair, ...common }).strict(),
  z.object({ kind: z.literal('unsure'), records: pair, ...common }).strict(),
  z
    .object({ kind: z.literal('field_value'), target: PersonRef, field: z.enum(FIELD_NAMES), value: z.union([z.string(), z.number(), z.boolean()]).transform(String), ...common })
    .strict()
    .superRefine((d, ctx) => {
      const f = DECIDABLE_FIELDS[d.field];
      if (!f.check.test(d.value)) ctx.addIssue({ code: 'custom', path: ['value'], message: `${d.field} must be ${f.expected}` });
    }),
]);
export type Decision = z.infer<typeof Decision>;
export type DecisionKind = Decision['kind'];
export const DECISION_KINDS: readonly DecisionKind[] = ['same_person', 'different_persons', 'field_value', 'unsure'];
export type ReviewQueue = NonNullable<Decision['review']>['queue'];
