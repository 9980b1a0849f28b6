/**
 * The canonical record: the names every stage after ingest uses.
 *
 * Ingest maps each source's own columns onto CANONICAL_FIELDS (through the source's mapping file) and
 * writes `source_record` (a view over the raw tables): lineage columns + one VARCHAR per canonical field, values exactly as read, and `rid`.
 * Validate splits `source_record` into `accepted_record` (a view: the same columns, `rid` the row's identity) and `quarantine`.
 * Normalise turns `accepted_record` into `person_clean` (typed, cleaned; see PERSON_CLEAN_COLUMNS).
 */
export const SOURCES = ['dtks', 'regsosek', 'p3ke'] as const;
export type SourceName = (typeof SOURCES)[number];

/** Canonical fields a mapping can fill. All are read as text; a field not mapped is NULL. */
export const CANONICAL_FIELDS = {
  source_record_id: "the source's own record id (unchanged)",
  family_id: "the source's own family/household id",
  no_kk: 'family-card number (No. KK)',
  nik: 'national identity number',
  name: 'full name',
  birth_place: 'place of birth',
  birth_date: 'birth date, any format the source uses',
  age: 'age in years at enumeration',
  sex: 'sex, any coding the source uses',
  relation: 'relation to the head of family/household',
  mother_name: "mother's maiden name",
  address: 'street address line (may hold RT/RW)',
  rt: 'RT number',
  rw: 'RW number',
  village_code: 'Kemendagri village code, dotted or not',
  province_name: 'province name',
  regency_name: 'regency/city name',
  district_name: 'district name',
  village_name: 'village name',
  decile: 'welfare decile 1-10',
  prog_pkh: 'PKH membership flag',
  prog_bpnt: 'BPNT/Sembako membership flag',
  prog_pbi_jkn: 'PBI-JKN membership flag',
  programme_list: 'comma-separated programme names',
  dukcapil_status: 'civil-registry check of the NIK',
  updated_at: 'last update date',
} as const;
export type CanonicalField = keyof typeof CANONICAL_FIELDS;
export const CANONICAL_FIELD_NAMES = Object.keys(CANONICAL_FIELDS) as CanonicalField[];

/** Lineage columns carried by every row from ingest to the outputs. */
export const LINEAGE_COLUMNS = {
  source: "VARCHAR: 'dtks' | 'regsosek' | 'p3ke'",
  file: 'VARCHAR: the file the row came from',
  row_number: 'BIGINT: 1-based data row number within that file (header not counted)',
  snapshot_id: 'VARCHAR: the snapshot id of the batch config',
} as const;

/**
 * person_clean: one row per accepted record. Written by the normalise stage.
 * rec_id is a dense BIGINT key, deterministic: ordered by source, file, row_number.
 */
export const PERSON_CLEAN_COLUMNS = {
  rec_id: 'BIGINT dense deterministic key (order by source, file, row_number)',
  source: 'VARCHAR', source_record_id: 'VARCHAR', file: 'VARCHAR', row_number: 'BIGINT', snapshot_id: 'VARCHAR',
  nik_raw: 'VARCHAR as read',
  nik: 'VARCHAR 16 digits when structurally valid, else NULL',
  nik_digits: 'VARCHAR digits recovered from the raw value (16 digits) even when invalid, else NULL',
  nik_status: "VARCHAR 'valid' | 'missing' | 'placeholder' | 'scientific' | 'bad_length' | 'non_digit' | 'bad_province' | 'bad_month' | 'bad_day' | 'bad_serial' | 'is_kk'",
  nik_region: 'VARCHAR 6 digits PPKKCC (first registration) when nik valid',
  nik_birth_date: 'DATE decoded from the NIK (century inferred from stated birth date/age, else <= snapshot year)',
  nik_sex: "VARCHAR 'L' | 'P' decoded from the NIK",
  no_kk: 'VARCHAR 16 digits or NULL', kk_valid: 'BOOLEAN',
  family_id: "VARCHAR source family id prefixed by the source ('dtks:…')",
  name_raw: 'VARCHAR', name_norm: 'VARCHAR normalised full name (upper, no titles, Muhammad/Abdul unified, old spelling mapped, no bin/binti part)',
  name_tokens: 'VARCHAR[] tokens of name_norm', name_first: 'VARCHAR', name_last: 'VARCHAR',
  name_phonetic: 'VARCHAR phonetic key of name_norm', name_parent: 'VARCHAR the bin/binti part, normalised',
  birth_date: 'DATE', birth_date_status: "VARCHAR 'ok' | 'missing' | 'unparsed' | 'impossible'", birth_year: 'INTEGER',
  age: 'INTEGER',
  sex: "VARCHAR 'L' | 'P' | NULL",
  relation: 'INTEGER 1 head, 2 spouse, 3 child, 4 child-in-law, 5 grandchild, 6 parent/in-law, 7 help, 8 other',
  village_code: 'VARCHAR 10 digits when known in the reference', village_status: "VARCHAR 'ok' | 'missing' | 'malformed' | 'unknown'",
  district_code: 'VARCHAR 6', regency_code: 'VARCHAR 4', province_code: 'VARCHAR 2',
  rt: 'VARCHAR 3 digits or NULL', rw: 'VARCHAR 3 digits or NULL',
  address_norm: 'VARCHAR', address_tokens: 'VARCHAR[]',
  mother_name_norm: 'VARCHAR',
  decile: 'INTEGER 1-10',
  pkh: 'BOOLEAN', bpnt: 'BOOLEAN', pbi_jkn: 'BOOLEAN', programmes: 'VARCHAR[] upper-case programme names',
  dukcapil_match: 'BOOLEAN',
  updated_at: 'DATE',
  flags: 'VARCHAR[] field-level problems kept on an accepted row',
} as const;
