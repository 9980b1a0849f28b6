/**
 * The data dictionary: every exported table and column, its DuckDB type and meaning. The one source of truth
 * for the export column lists, the README's data dictionary and the COMMENT ON TABLE/COLUMN of dtsen.duckdb.
 *
 * `pseudonym` marks a column that `pseudonymise` replaces in the exported files: `value` a NIK/KK value,
 * `list` a list of KKs, `conflict` the values of a NIK conflict, `raw` the NIK/KK fields of a raw row (JSON),
 * `change` the before/after of a NIK or KK change.
 */
export type PseudonymKind = 'value' | 'list' | 'conflict' | 'raw' | 'change';

export interface OutputColumn {
  name: string;
  type: string;
  description: string;
  pseudonym?: PseudonymKind;
}

export interface OutputTable {
  table: string;
  /** the single file of the table in the output folder */
  file: string;
  /** the Hive-partitioned folder (by province_code), when there is one */
  byProvince?: string;
  description: string;
  /** ORDER BY of the exported rows */
  order: string;
  columns: OutputColumn[];
}

const c = (name: string, type: string, description: string, pseudonym?: PseudonymKind): OutputColumn =>
  pseudonym ? { name, type, description, pseudonym } : { name, type, description };

const programme = (p: string, label: string): OutputColumn[] => [
  c(p, 'BOOLEAN', `${label}: true when DTKS or P3KE lists the person (union)`),
  c(`${p}_sources`, 'VARCHAR[]', `the sources that list the person in ${label}`),
];

export const OUTPUT_TABLES: readonly OutputTable[] = [
  {
    table: 'dtsen_person',
    file: 'dtsen_person.parquet',
    byProvince: 'dtsen_person_by_province',
    description: 'DTSEN golden records: one row per person, each field chosen by a documented survivorship rule',
    order: 'dtsen_id',
    columns: [
      c('dtsen_id', 'VARCHAR', 'deterministic person id (DT + 16 hex digits)'),
      c('nik', 'VARCHAR', 'surviving NIK (16 digits, structurally valid)', 'value'),
      c('nik_dukcapil', 'BOOLEAN', 'the surviving NIK was matched by the civil registry (STATUS_DUKCAPIL PADAN)'),
      c('nik_sources', 'VARCHAR[]', 'the sources whose records carry the surviving NIK'),
      c('name', 'VARCHAR', 'surviving normalised full name'),
      c('birth_date', 'DATE', 'surviving birth date'),
      c('birth_date_basis', 'VARCHAR', "why: 'nik_agrees' (agrees with the NIK's date), 'stated', 'nik' (decoded from the NIK)"),
      c('sex', 'VARCHAR', "'L' or 'P'"),
      c('relation', 'INTEGER', 'relation to the head: 1 head, 2 spouse, 3 child, 4 child-in-law, 5 grandchild, 6 parent/in-law, 7 help, 8 other'),
      c('village_code', 'VARCHAR', 'Kemendagri village code (10 digits) of the most recent address'),
      c('district_code', 'VARCHAR', 'district code (6 digits)'),
      c('regency_code', 'VARCHAR', 'regency/city code (4 digits)'),
      c('province_code', 'VARCHAR', 'province code (2 digits); the partition key of dtsen_person_by_province'),
      c('rt', 'VARCHAR', 'RT (3 digits)'),
      c('rw', 'VARCHAR', 'RW (3 digits)'),
      c('address', 'VARCHAR', 'normalised street address line'),
      c('address_source', 'VARCHAR', 'the source of the record the address came from'),
      c('address_date', 'DATE', "that record's date (its update date, else its source's reference date)"),
      c('no_kk', 'VARCHAR', 'surviving family-card number (No. KK)', 'value'),
      c('family_id', 'VARCHAR', 'the DTSEN family (dtsen_family.family_id)'),
      c('decile', 'INTEGER', 'welfare decile 1-10 (1 = poorest)'),
      c('decile_source', 'VARCHAR', 'the source the decile came from'),
      ...programme('pkh', 'PKH'),
      ...programme('bpnt', 'BPNT/Sembako'),
      ...programme('pbi_jkn', 'PBI-JKN'),
      c('programmes', 'VARCHAR[]', 'every programme any record names'),
      c('n_records', 'BIGINT', 'number of source records of the person'),
      c('sources', 'VARCHAR[]', 'the sources the person is in'),
      c('in_dtks', 'BOOLEAN', 'the person is in DTKS'),
      c('in_regsosek', 'BOOLEAN', 'the person is in Regsosek'),
      c('in_p3ke', 'BOOLEAN', 'the person is in P3KE'),
      c('source_record_ids', 'VARCHAR[]', 'lineage: every source:source_record_id of the person'),
      c('decision_refs', 'VARCHAR[]', 'lineage of human decisions: "field: reference (decision N)" of every field_value decision this golden record took instead of survivorship (NULL: none)'),
    ],
  },
  {
    table: 'dtsen_link',
    file: 'dtsen_link.parquet',
    description: 'lineage: one row per accepted source record, with the person it belongs to',
    order: 'dtsen_id, source, source_record_id',
    columns: [
      c('dtsen_id', 'VARCHAR', 'the person'),
      c('source', 'VARCHAR', "'dtks', 'regsosek' or 'p3ke'"),
      c('source_record_id', 'VARCHAR', "the source's own record id, unchanged"),
      c('match_probability', 'DOUBLE', "the record's best link into its person (1 for a singleton)"),
    ],
  },
  {
    table: 'dtsen_family',
    file: 'dtsen_family.parquet',
    byProvince: 'dtsen_family_by_province',
    description: 'DTSEN families: persons joined by family-card numbers and source family ids',
    order: 'family_id',
    columns: [
      c('family_id', 'VARCHAR', 'deterministic family id (FM + 16 hex digits)'),
      c('head_dtsen_id', 'VARCHAR', 'the head of family'),
      c('head_basis', 'VARCHAR', "why: 'relation' (records call the person head) or 'oldest' (no record states a head)"),
      c('n_members', 'BIGINT', 'number of members'),
      c('members', 'VARCHAR[]', 'dtsen_id of every member'),
      c('village_code', 'VARCHAR', "the family's village (the head's)"),
      c('regency_code', 'VARCHAR', 'regency/city code (4 digits)'),
      c('province_code', 'VARCHAR', 'province code (2 digits); the partition key of dtsen_family_by_province'),
      c('decile', 'INTEGER', 'welfare decile 1-10 of the family'),
      c('pkh', 'BOOLEAN', 'a member is in PKH'),
      c('bpnt', 'BOOLEAN', 'a member is in BPNT/Sembako'),
      c('pbi_jkn', 'BOOLEAN', 'a member is in PBI-JKN'),
      c('programmes', 'VARCHAR[]', 'every programme of a member'),
      c('no_kks', 'VARCHAR[]', "every valid family-card number of the members' records", 'list'),
      c('source_family_ids', 'VARCHAR[]', "the sources' own family ids (source:id)"),
    ],
  },
  {
    table: 'dtsen_conflict',
    file: 'dtsen_conflict.parquet',
    description: "disagreements between a person's records, for field verification",
    order: 'dtsen_id, conflict_type',
    columns: [
      c('dtsen_id', 'VARCHAR', 'the person'),
      c('conflict_type', 'VARCHAR', "'nik' (different valid NIKs), 'birth_date' (more than a year apart), 'sex' (different)"),
      c('n_values', 'BIGINT', 'number of different values'),
      c('values', 'STRUCT("value" VARCHAR, source_record_ids VARCHAR[])[]', 'each value with the records (source:source_record_id) that state it', 'conflict'),
      c('surviving_value', 'VARCHAR', 'the value the golden record kept', 'conflict'),
    ],
  },
  {
    table: 'dtsen_id_history',
    file: 'dtsen_id_history.parquet',
    description: 'every person and family id the register ever issued, its status and where it went',
    order: 'kind, id',
    columns: [
      c('id', 'VARCHAR', 'a dtsen_id (DT…) or family_id (FM…)'),
      c('kind', 'VARCHAR', "'person' or 'family'"),
      c('status', 'VARCHAR', "'active' (in this batch), 'inactive' (none of its records in the snapshots since status_batch), 'merged' (retired: its records are all in successors[1]), 'split' (retired: its records went to several persons, the main one first)"),
      c('successors', 'VARCHAR[]', 'the ids now holding records that were this id\'s (merged into, split into, split off), the main one first'),
      c('split_from', 'VARCHAR', 'for an id minted for a part split off a person: that person'),
      c('first_batch', 'INTEGER', 'the register batch (dtsen_register_batch.batch_seq) that issued it'),
      c('last_batch', 'INTEGER', 'the last register batch in which it was active'),
      c('status_batch', 'INTEGER', 'the register batch since which it has its status'),
    ],
  },
  {
    table: 'dtsen_change',
    file: 'dtsen_change.parquet',
    description: 'what this batch changed in the register against the previous batch: persons and families new, returned, inactive, merged, split; field changes of golden records',
    order: 'entity, kind, id, field',
    columns: [
      c('batch_seq', 'INTEGER', 'the register batch of the change'),
      c('entity', 'VARCHAR', "'person' or 'family'; 'batch' for the path the batch took and how much it recomputed"),
      c('kind', 'VARCHAR', "'new' (no earlier record), 'returned' (an inactive id whose records came back), 'inactive' (none of its records in the snapshots), 'merged' (retired into related_id), 'retired' (retired, its records split over several persons; related_id the main one), 'split' (minted for a part split off related_id), 'field' (a golden-record field changed); for entity 'batch': 'incremental' or 'full', with id the batch and related_id why"),
      c('id', 'VARCHAR', 'the dtsen_id or family_id'),
      c('related_id', 'VARCHAR', 'merged into, split from, or retired into (main successor)'),
      c('field', 'VARCHAR', "for 'field': nik, name, birth_date, sex, village_code, family_id, decile, programmes; for entity 'batch': records, pairs, components, persons, families"),
      c('before', 'VARCHAR', "the value in the previous batch (entity 'batch': how many this batch holds)", 'change'),
      c('after', 'VARCHAR', "the value in this batch (entity 'batch': how many it computed, the rest taken from the previous batch)", 'change'),
      c('province_code', 'VARCHAR', 'province of the person or family (this batch, else the previous)'),
    ],
  },
  {
    table: 'quarantine',
    file: 'quarantine.parquet',
    description: 'every rejected input row, with the reason',
    order: 'source, file, row_number',
    columns: [
      c('source', 'VARCHAR', "'dtks', 'regsosek' or 'p3ke'"),
      c('source_record_id', 'VARCHAR', "the source's own record id, when the row has one"),
      c('file', 'VARCHAR', 'the file the row came from'),
      c('row_number', 'BIGINT', '1-based data row number within that file'),
      c('reason', 'VARCHAR', 'why the row was rejected'),
      c('raw', 'VARCHAR', 'the raw values of the row as JSON', 'raw'),
    ],
  },
];

export function outputTable(table: string): OutputTable {
  const t = OUTPUT_TABLES.find((x) => x.table === table);
  if (!t) throw new Error(`no output table ${table}`);
  return t;
}

/** Column names of an exported table, in order. */
export function exportColumns(table: string): string[] {
  return outputTable(table).columns.map((col) => col.name);
}
