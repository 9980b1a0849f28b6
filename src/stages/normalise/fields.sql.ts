/**
 * NIK, family card, dates, sex, relation, region, RT/RW, address, decile and programme normalisers as
 * SQL macros. Each is a pure function of its arguments; the stage composes them in one statement.
 */

/** Built-in date formats, tried in order (try_strptime takes the first that parses). */
export const DATE_FORMATS = [
  '%d-%m-%Y', '%d/%m/%Y', '%Y-%m-%d', '%Y/%m/%d', '%d.%m.%Y', '%d%m%Y', '%Y%m%d',
  '%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S.%fZ', '%d-%m-%Y %H:%M:%S', '%d/%m/%Y %H:%M',
];

export const FIELD_MACROS = `
-- Text that means "nothing here".
CREATE OR REPLACE MACRO is_blank(x) AS
  x IS NULL OR upper(trim(x)) IN ('', '-', '--', '.', '0', 'NULL', 'NONE', 'NAN', 'N/A', 'NA', 'TIDAK ADA', 'TIDAK DIKETAHUI', '#N/A');

-- Digits of an identity number: spaces, dots, dashes, quotes and a leading apostrophe removed.
CREATE OR REPLACE MACRO id_digits(x) AS regexp_replace(trim(x), '[\\s.\\-"''\`]', '', 'g');

-- A spreadsheet turned the number into scientific notation: the digits are gone.
CREATE OR REPLACE MACRO id_is_scientific(x) AS regexp_full_match(trim(x), '[0-9]+([.,][0-9]+)?[eE][+]?[0-9]+');

-- Placeholders: one digit repeated, counting runs, or a serial of zeros after a zero prefix.
CREATE OR REPLACE MACRO id_is_placeholder(d) AS
  d = repeat(substr(d, 1, 1), 16) OR d IN ('1234567890123456', '0123456789012345', '9876543210987654', '1234567812345678')
  OR substr(d, 1, 6) = '000000';

-- NIK status (first failing check wins). prov_ok is whether the first two digits are a known province.
CREATE OR REPLACE MACRO nik_status_of(raw, d, prov_ok, kk_d) AS CASE
  WHEN is_blank(raw) THEN 'missing'
  WHEN id_is_scientific(raw) THEN 'scientific'
  WHEN NOT regexp_full_match(d, '[0-9]+') THEN 'non_digit'
  WHEN length(d) <> 16 THEN 'bad_length'
  WHEN id_is_placeholder(d) THEN 'placeholder'
  WHEN NOT prov_ok THEN 'bad_province'
  WHEN NOT (substr(d, 9, 2) BETWEEN '01' AND '12') THEN 'bad_month'
  WHEN NOT (substr(d, 7, 2) BETWEEN '01' AND '31' OR substr(d, 7, 2) BETWEEN '41' AND '71') THEN 'bad_day'
  WHEN substr(d, 13, 4) = '0000' THEN 'bad_serial'
  WHEN d = kk_d THEN 'is_kk'
  ELSE 'valid' END;

-- Family-card number (No. KK): 16 digits, not a placeholder, starting with a known province (prov_ok).
CREATE OR REPLACE MACRO kk_is_valid(raw, d, prov_ok) AS
  NOT is_blank(raw) AND regexp_full_match(d, '[0-9]{16}') AND NOT id_is_placeholder(d) AND prov_ok;

-- Village code: its digits (dots and spaces dropped), and its status (known: the code is in ref_village).
CREATE OR REPLACE MACRO village_digits(x) AS regexp_replace(coalesce(x, ''), '[^0-9]', '', 'g');
CREATE OR REPLACE MACRO village_status_of(vc, known) AS
  CASE WHEN vc = '' THEN 'missing' WHEN length(vc) <> 10 THEN 'malformed' WHEN NOT known THEN 'unknown' ELSE 'ok' END;

-- The birth date inside a NIK, century inferred: the stated birth year's century when its last two digits agree,
-- else the century that fits the stated age, else the latest century not after the snapshot year.
CREATE OR REPLACE MACRO nik_yy(d) AS substr(d, 11, 2)::INT;
CREATE OR REPLACE MACRO nik_century(d, stated, age, snap_year) AS CASE
  WHEN stated IS NOT NULL AND year(stated) % 100 = nik_yy(d) THEN year(stated) - nik_yy(d)
  WHEN age IS NOT NULL AND abs((snap_year - age) - (2000 + nik_yy(d))) <= 1 THEN 2000
  WHEN age IS NOT NULL AND abs((snap_year - age) - (1900 + nik_yy(d))) <= 1 THEN 1900
  WHEN 2000 + nik_yy(d) <= snap_year THEN 2000
  ELSE 1900 END;
CREATE OR REPLACE MACRO nik_birth_date_of(d, stated, age, snap_year) AS
  try_strptime(printf('%04d-%s-%02d', nik_century(d, stated, age, snap_year) + nik_yy(d), substr(d, 9, 2), substr(d, 7, 2)::INT % 40), '%Y-%m-%d')::DATE;

-- Age in completed years at a reference date (one born 1985-12-31 is 40 on 2026-01-01, not 41).
CREATE OR REPLACE MACRO age_at(birth, ref) AS date_sub('year', birth, ref);

-- Dates: every format the sources use, plus the mapping's own.
CREATE OR REPLACE MACRO date_parse(x, formats) AS
  CASE WHEN is_blank(x) THEN NULL ELSE try_strptime(trim(x), formats)::DATE END;
CREATE OR REPLACE MACRO date_status(x, parsed, snap) AS CASE
  WHEN is_blank(x) THEN 'missing'
  WHEN parsed IS NULL AND regexp_full_match(trim(x), '[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}.*|[0-9]{8}') THEN 'impossible'
  WHEN parsed IS NULL THEN 'unparsed'
  WHEN parsed > snap OR parsed < DATE '1900-01-01' THEN 'impossible'
  ELSE 'ok' END;

-- Sex: built-in codes (the mapping's own codes are applied before this).
CREATE OR REPLACE MACRO sex_of(x) AS CASE
  WHEN regexp_replace(upper(trim(x)), '[^A-Z0-9]', '', 'g') IN ('L', 'LK', 'LAKILAKI', 'LAKI', 'PRIA', 'M', 'MALE', '1') THEN 'L'
  WHEN regexp_replace(upper(trim(x)), '[^A-Z0-9]', '', 'g') IN ('P', 'PR', 'PEREMPUAN', 'WANITA', 'F', 'FEMALE', '2', 'W') THEN 'P'
  END;

-- Relation to the head: 1 head, 2 spouse, 3 child, 4 child-in-law, 5 grandchild, 6 parent/in-law, 7 help, 8 other.
CREATE OR REPLACE MACRO relation_of(x) AS CASE
  WHEN regexp_full_match(trim(x), '[1-9]') THEN least(trim(x)::INT, 8)
  WHEN upper(x) LIKE '%KEPALA%' THEN 1
  WHEN upper(x) LIKE '%ISTRI%' OR upper(x) LIKE '%SUAMI%' THEN 2
  WHEN upper(x) LIKE '%MENANTU%' THEN 4
  WHEN upper(x) LIKE '%CUCU%' THEN 5
  WHEN upper(x) LIKE '%ANAK%' THEN 3
  WHEN upper(x) LIKE '%ORANG TUA%' OR upper(x) LIKE '%MERTUA%' THEN 6
  WHEN upper(x) LIKE '%PEMBANTU%' THEN 7
  WHEN upper(x) LIKE '%LAIN%' OR upper(x) LIKE '%FAMILI%' THEN 8
  END;

-- RT/RW: the columns when given, else parsed out of the address line; 0 means unknown; 3 digits.
CREATE OR REPLACE MACRO rt_rw_pad(x) AS
  CASE WHEN regexp_full_match(trim(coalesce(x, '')), '0*[1-9][0-9]{0,2}') THEN lpad(ltrim(trim(x), '0'), 3, '0') END;
CREATE OR REPLACE MACRO rt_from_address(a) AS coalesce(
  nullif(regexp_extract(upper(a), 'RT\\s*[.:]?\\s*([0-9]{1,3})', 1), ''),
  nullif(regexp_extract(upper(a), '(^|\\s)([0-9]{1,3})\\s*/\\s*[0-9]{1,3}(\\s|$)', 2), ''));
CREATE OR REPLACE MACRO rw_from_address(a) AS coalesce(
  nullif(regexp_extract(upper(a), 'RW\\s*[.:]?\\s*([0-9]{1,3})', 1), ''),
  nullif(regexp_extract(upper(a), 'RT\\s*[.:]?\\s*[0-9]{1,3}\\s*/\\s*([0-9]{1,3})', 1), ''),
  nullif(regexp_extract(upper(a), '(^|\\s)[0-9]{1,3}\\s*/\\s*([0-9]{1,3})(\\s|$)', 2), ''));

-- Address line: RT/RW removed, street and area forms unified, punctuation removed.
-- Street and area forms to one spelling each, token by token (one pass instead of a regular expression per form).
CREATE OR REPLACE MACRO address_token(t) AS CASE
  WHEN t IN ('JALAN', 'JLN', 'JL') THEN 'JL' WHEN t IN ('GANG', 'GG') THEN 'GG' WHEN t IN ('KAMPUNG', 'KAMP', 'KP') THEN 'KP'
  WHEN t IN ('DUSUN', 'DSN') THEN 'DSN' WHEN t IN ('PERUMAHAN', 'PERUM') THEN 'PERUM' WHEN t IN ('KOMPLEKS', 'KOMPLEK', 'KOMP') THEN 'KOMP'
  WHEN t IN ('DESA', 'DS') THEN 'DS' WHEN t IN ('KELURAHAN', 'KEL') THEN 'KEL' WHEN t IN ('KECAMATAN', 'KEC') THEN 'KEC'
  WHEN t IN ('KABUPATEN', 'KAB') THEN 'KAB' WHEN t IN ('NOMOR', 'NO') THEN 'NO' ELSE t END;
CREATE OR REPLACE MACRO address_norm_of(a) AS nullif(array_to_string(list_transform(list_filter(string_split(
  regexp_replace(regexp_replace(upper(coalesce(a, '')),
      'RT\\s*[.:]?\\s*[0-9]{1,3}(\\s*/?\\s*(RW\\s*[.:]?\\s*)?[0-9]{1,3})?|RW\\s*[.:]?\\s*[0-9]{1,3}|(^|\\s)[0-9]{1,3}\\s*/\\s*[0-9]{1,3}(\\s|$)', ' ', 'g'),
    '[^A-Z0-9]', ' ', 'g'), ' '), t -> t <> ''), t -> address_token(t)), ' '), '');

-- Programme flags.
CREATE OR REPLACE MACRO flag_of(x) AS CASE
  WHEN upper(trim(x)) IN ('1', 'YA', 'Y', 'TRUE', 'T', 'ADA', 'YES') THEN true
  WHEN upper(trim(x)) IN ('0', 'TIDAK', 'N', 'FALSE', 'F', 'TIDAK ADA', 'NO', 'BUKAN') THEN false
  END;
-- Canonical programme names in a comma-separated list.
CREATE OR REPLACE MACRO programme_names(x) AS list_sort(list_distinct(list_filter(list_transform(
  string_split(regexp_replace(upper(coalesce(x, '')), '[;/|]', ',', 'g'), ','),
  p -> CASE
    WHEN trim(p) = 'PKH' THEN 'PKH'
    WHEN trim(p) IN ('BPNT', 'SEMBAKO', 'BANSOS SEMBAKO') THEN 'BPNT'
    WHEN regexp_replace(trim(p), '[^A-Z]', '', 'g') IN ('PBI', 'PBIJKN', 'KIS', 'JKN', 'JKNPBI') THEN 'PBI_JKN'
    WHEN trim(p) = 'BST' THEN 'BST'
    WHEN trim(p) = 'BLT' OR trim(p) LIKE 'BLT %' THEN 'BLT'
    WHEN trim(p) IN ('PIP', 'KIP') THEN 'PIP'
    END), p -> p IS NOT NULL)));
`;
