/** A source mapping: how one snapshot layout maps onto the canonical record. One file per source. */
import { z } from 'zod';
import { CANONICAL_FIELD_NAMES, SOURCES } from './canonical.ts';

const fieldName = z.enum(CANONICAL_FIELD_NAMES as [string, ...string[]]);

export const CsvOptions = z
  .object({
    delimiter: z.string().min(1, 'delimiter must be one character, e.g. ";"').max(1, 'delimiter must be one character, e.g. ";"'),
    quote: z.string().max(1).default('"'),
    header: z.literal(true, { message: 'only files with a header row are supported (header: true)' }).default(true),
    encoding: z.enum(['auto', 'utf-8', 'latin-1']).default('auto'),
  })
  .strict();

export const Mapping = z
  .object({
    /** the JSON Schema an editor checks this file against (schemas/*.schema.json); ignored by dtsen */
    $schema: z.string().optional(),
    source: z.enum(SOURCES),
    description: z.string().optional(),
    format: z.enum(['auto', 'csv', 'parquet', 'jsonl']).default('auto'),
    csv: CsvOptions.optional(),
    /** canonical field -> column name in the source file (matched case-insensitively, spaces trimmed) */
    columns: z
      .partialRecord(fieldName, z.string().min(1))
      .refine((c) => 'source_record_id' in c, { message: 'columns.source_record_id is required (the source\'s own record id column)' }),
    /** columns that may be absent from a file (their field is NULL); all other mapped columns are required */
    optional_columns: z.array(fieldName).default([]),
    /** extra value codes of this source, e.g. { "sex": { "1": "L", "2": "P" } }; applied before the built-in codes */
    values: z
      .object({
        sex: z.record(z.string(), z.enum(['L', 'P'])).optional(),
        relation: z.record(z.string(), z.number().int().min(1).max(8)).optional(),
      })
      .strict()
      .default({}),
    /** the date the source's ages refer to (e.g. the enumeration date), YYYY-MM-DD */
    age_reference_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD').optional(),
    /** strptime formats tried in order for birth_date and updated_at, after the built-in ones */
    date_formats: z.array(z.string()).default([]),
  })
  .strict();
export type Mapping = z.infer<typeof Mapping>;
