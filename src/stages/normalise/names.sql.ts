/**
 * Name normalisation, as SQL macros (vectorised regexp work; no per-row JavaScript).
 *
 * name_norm: upper case, accents stripped, academic degrees after a comma and dotted degrees removed,
 * punctuation to spaces, title/honorific tokens removed (unless the name is nothing else), pre-1972 spelling
 * mapped (OE→U, DJ→J, TJ→C, SJ→SY, NJ→NY, CH→KH), Muhammad/Abdul/Ahmad forms unified, the bin/binti part cut off.
 * A bare J is left alone: it is Y in old spelling but J in new, so the phonetic key (not name_norm) merges J and Y.
 */

/** Title and honorific tokens (after dots are removed): religious, academic, nobility, address forms, ranks. */
export const TITLE_TOKENS = [
  'H', 'HJ', 'HJH', 'HAJI', 'HAJAH', 'HAJJAH', 'KH', 'USTADZ', 'USTAZ', 'USTADZAH',
  'DR', 'DRS', 'DRA', 'IR', 'PROF', 'SPD', 'SPDI', 'SE', 'SH', 'SKOM', 'SAG', 'SSOS', 'ST', 'SKM', 'SKEP', 'SIP', 'SPSI', 'SFARM',
  'SKED', 'SHUT', 'SPT', 'SSI', 'SHI', 'STP', 'SSTP', 'SKG', 'AMD', 'AMK', 'AMKEP', 'AMAK', 'AMPD', 'MPD', 'MSI', 'MM', 'MH', 'MAG', 'MKES', 'MT', 'MA', 'MSC', 'MBA', 'PHD', 'BSC', 'BA',
  'R', 'RR', 'RA', 'RADEN', 'BAPAK', 'BPK', 'BP', 'IBU', 'SDR', 'SDRI', 'SAUDARA', 'SAUDARI', 'TN', 'TUAN', 'NY', 'NYONYA', 'NN', 'NONA',
  'ALM', 'ALMH', 'ALMARHUM', 'ALMARHUMAH',
  'KAPT', 'LETDA', 'LETTU', 'SERDA', 'SERKA', 'SERTU', 'KOPDA', 'PRATU', 'BRIPKA', 'BRIPTU', 'BRIGPOL', 'AIPTU', 'AIPDA', 'IPTU', 'AKP', 'KOMPOL',
] as const;

/** Written forms of Muhammad, Abdul and Ahmad (whole tokens, after dots are removed). */
export const MUHAMMAD_FORMS = ['MHD', 'MOH', 'MOHD', 'MOCH', 'MOCHAMAD', 'MOCHAMMAD', 'MOCHAMED', 'MOHAMAD', 'MOHAMMAD', 'MOHAMED', 'MOHAMMED', 'MUCH', 'MUCHAMAD', 'MUCHAMMAD', 'MUH', 'MUHAMAD', 'MUHAMMAD', 'MUHAMED', 'MUHAMMED', 'MOEHAMAD', 'MOEHAMMAD', 'MUHAMAT', 'MUHAMMAT', 'MOHAMAT', 'MUHD'];
export const ABDUL_FORMS = ['ABD', 'ABDOEL', 'ABDUL', 'ABDOL'];
export const AHMAD_FORMS = ['ACHMAD', 'AHMAD', 'AKHMAD', 'ACHMAT', 'AHMAT', 'ACHMED', 'AHMED'];

const alt = (xs: readonly string[]) => xs.join('|');

/** Dotted academic degrees such as S.Pd, S.E., A.Md, M.Si (removed before dots are dropped). */
const DOTTED_DEGREE = `\\b(S|M|A|D)\\. ?(PD\\. ?I|PD|E|H|KOM|AG|SOS|T|KM|KEP|IP|PSI|FARM|KED|HUT|PT|SI|HI|TP|STP|KG|MD|M|AK|KES|SC|MD\\. ?KEP)\\b\\.?`;

export const NAME_MACROS = `
-- Upper case, accents stripped, degrees after a comma removed, dotted degrees removed.
CREATE OR REPLACE MACRO name_prep(x) AS
  regexp_replace(regexp_replace(
    upper(strip_accents(coalesce(x, ''))),
    ',(\\s*[A-Z]{1,6}(\\.\\s?[A-Z]{1,6})*\\.?)+\\s*$', ''),
    '${DOTTED_DEGREE}', ' ', 'g');

-- Letters and spaces only (dots and apostrophes vanish inside tokens, other punctuation separates tokens).
CREATE OR REPLACE MACRO name_letters(x) AS
  trim(regexp_replace(regexp_replace(regexp_replace(x, '[.''\`]', '', 'g'), '[^A-Z ]', ' ', 'g'), '\\s+', ' ', 'g'));

-- Pre-1972 spelling → current spelling (J left alone, see above).
CREATE OR REPLACE MACRO name_spelling(x) AS
  replace(replace(replace(replace(replace(replace(x, 'OE', 'U'), 'DJ', 'J'), 'TJ', 'C'), 'SJ', 'SY'), 'NJ', 'NY'), 'CH', 'KH');

-- Muhammad / Abdul / Ahmad forms unified; a leading single M before another token is Muhammad.
CREATE OR REPLACE MACRO name_common_forms(x) AS
  regexp_replace(regexp_replace(regexp_replace(regexp_replace(x,
    '\\b(${alt(MUHAMMAD_FORMS.map((f) => f.replaceAll('OE', 'U').replaceAll('CH', 'KH')))}|${alt(MUHAMMAD_FORMS)})\\b', 'MUHAMMAD', 'g'),
    '\\b(${alt(ABDUL_FORMS)}|ABDUL)\\b', 'ABDUL', 'g'),
    '\\b(${alt(AHMAD_FORMS.map((f) => f.replaceAll('CH', 'KH')))}|${alt(AHMAD_FORMS)})\\b', 'AHMAD', 'g'),
    '^M (\\S)', 'MUHAMMAD \\1');

-- Title tokens removed, unless nothing else is left.
CREATE OR REPLACE MACRO name_drop_titles(x) AS
  CASE WHEN trim(regexp_replace(' ' || x || ' ', '( (${alt(TITLE_TOKENS)}))+ ', ' ', 'g')) = '' THEN x
       ELSE trim(regexp_replace(regexp_replace(' ' || x || ' ', '( (${alt(TITLE_TOKENS)}))+ ', ' ', 'g'), '( (${alt(TITLE_TOKENS)}))+ ', ' ', 'g'))
  END;

-- Full clean name including any bin/binti part.
CREATE OR REPLACE MACRO name_full(x) AS
  nullif(name_common_forms(name_drop_titles(name_spelling(name_letters(name_prep(x))))), '');

-- The name without its bin/binti part, and the part itself.
CREATE OR REPLACE MACRO name_own(fullname) AS
  nullif(trim(regexp_replace(fullname, '\\s(BIN|BINTI|BT|BN)\\s.*$', '')), '');
CREATE OR REPLACE MACRO name_parent(fullname) AS
  nullif(trim(regexp_extract(fullname, '\\s(BIN|BINTI|BT|BN)\\s(.*)$', 2)), '');

-- Phonetic key for Indonesian names, per token: digraphs folded (KH→H, SY→S, DZ→Z, PH→F, NG stays),
-- F/V→P, Q→K, Z→J, Y→J (old/new spelling of Y/J), X→KS, a final I/Y both I; doubled letters collapsed;
-- the first letter of each token kept, later vowels and a token-final H dropped.
-- SUTRISNO = SOETRISNO, MUHAMAD = MUHAMMAD, NURHAYATI = NURHAJATI, FITRI = FITRY; HASAN = HUSEIN too (so the
-- key is a blocking key and a weak level, never a match by itself).
CREATE OR REPLACE MACRO name_phonetic_fold(x) AS
  regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
    regexp_replace(' ' || coalesce(x, '') || ' ', 'Y ', 'I ', 'g'),
    'KH', 'H', 'g'), 'SY', 'S', 'g'), 'DZ', 'J', 'g'), 'PH', 'P', 'g'), '[FV]', 'P', 'g'), 'Q', 'K', 'g'), '[ZY]', 'J', 'g'), 'X', 'KS', 'g');
CREATE OR REPLACE MACRO name_phonetic_key(x) AS
  nullif(trim(
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(name_phonetic_fold(x), '([^ ])[AEIOU]+', '\\1', 'g'), '([^ ])H ', '\\1 ', 'g'), 'BB+', 'B', 'g'), 'CC+', 'C', 'g'), 'DD+', 'D', 'g'), 'GG+', 'G', 'g'), 'HH+', 'H', 'g'), 'JJ+', 'J', 'g'), 'KK+', 'K', 'g'), 'LL+', 'L', 'g'), 'MM+', 'M', 'g'), 'NN+', 'N', 'g'), 'PP+', 'P', 'g'), 'RR+', 'R', 'g'), 'SS+', 'S', 'g'), 'TT+', 'T', 'g'), 'WW+', 'W', 'g')
  ), '');
`;
