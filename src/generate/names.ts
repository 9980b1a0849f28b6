/** Indonesian given names and family names by regional style; frequencies skewed (first entries common). */
import type { Rng } from './rng.ts';

export type Style = 'javanese' | 'sundanese' | 'muslim' | 'balinese' | 'batak' | 'christian' | 'chinese';

const JAVANESE_M = ['SLAMET', 'SUTRISNO', 'SUPARMAN', 'MULYADI', 'SUGIARTO', 'BAMBANG', 'JOKO', 'AGUS', 'BUDI', 'HARTONO', 'SUPRIYADI', 'SUYANTO', 'SUGENG', 'PONIMAN', 'SUKIRMAN', 'WAHYUDI', 'HERU', 'PRIYO', 'PURNOMO', 'WIDODO', 'SANTOSO', 'HANDOKO', 'SUHARTO', 'SUWARNO', 'SUPRAPTO', 'SARIMIN', 'KASMANI', 'TUGIMAN', 'PAIDI', 'WAGIMAN', 'SURATNO', 'SUDARNO'];
const JAVANESE_F = ['SRI WAHYUNI', 'SULASTRI', 'NURHAYATI', 'SUMIATI', 'SRI', 'WARTINI', 'PARTINI', 'SUPARMI', 'TUMINAH', 'SUKARSIH', 'LESTARI', 'ENDANG', 'RATNA', 'YULIANI', 'PUJI RAHAYU', 'NINGSIH', 'RAHAYU', 'WULANDARI', 'HANDAYANI', 'PURWANTI', 'SUSANTI', 'SUKINEM', 'PAINEM', 'WAGINAH', 'SUMARNI', 'KASIYATI', 'SRI MULYANI', 'TRI WAHYUNI'];
const JAVANESE_YOUNG_M = ['EKO PRASETYO', 'DWI SAPUTRO', 'TRI WIBOWO', 'ARIF SETIAWAN', 'ADI NUGROHO', 'BAYU AJI', 'DIMAS PRAKOSO', 'ANDI WIJAYA', 'YOGA PRATAMA', 'GILANG RAMADHAN', 'AJI SAPUTRA', 'RIZAL FAHMI'];
const JAVANESE_YOUNG_F = ['DWI LESTARI', 'EKA PRATIWI', 'TRI RAHAYU', 'DEWI KURNIASIH', 'AYU LESTARI', 'PUTRI WULANDARI', 'NOVI ANDRIANI', 'RINI ASTUTI', 'INDAH PERMATASARI', 'FITRI HANDAYANI'];
const MUSLIM_M1 = ['MUHAMMAD', 'AHMAD', 'ABDUL', 'RIZKI', 'FAJAR', 'HASAN', 'HUSEIN', 'ALI', 'ILHAM', 'IMAM', 'NUR', 'YUSUF', 'IBRAHIM', 'ISMAIL', 'SYAIFUL', 'ZAINAL', 'HENDRA', 'RUDI', 'ANDI', 'FIRDAUS', 'HAMZAH', 'ARIFIN'];
const MUSLIM_M2 = ['RAHMAN', 'HIDAYAT', 'FAUZI', 'RAMADHAN', 'SAPUTRA', 'PRATAMA', 'HAKIM', 'KURNIAWAN', 'FIRMANSYAH', 'SYAHPUTRA', 'MAULANA', 'NUGROHO', 'HIDAYATULLAH', 'RIDWAN', 'SYAHRIAL', 'MUSTOFA', 'KHOIRUL', 'AZIS', 'JUNAIDI', 'SUKRI'];
const MUSLIM_F1 = ['SITI', 'NUR', 'FATIMAH', 'AISYAH', 'DEWI', 'RINA', 'NURUL', 'ANISA', 'PUTRI', 'INDAH', 'FITRI', 'YULI', 'DIAN', 'LINA', 'SRI', 'NURHAYATI', 'HALIMAH', 'ZAHRA'];
const MUSLIM_F2 = ['AMINAH', 'HALIMAH', 'AZIZAH', 'KHADIJAH', 'RAHMAWATI', 'HANDAYANI', 'LESTARI', 'SARI', 'WULANDARI', 'NURHAYATI', 'MAHARANI', 'PERTIWI', 'SAFITRI', 'FITRIANI', 'MARYAM', 'ZULAIKHA', 'HASANAH', 'JANNAH'];
const SUNDA_M = ['ASEP', 'UJANG', 'DEDI', 'CECEP', 'DADANG', 'ENDANG', 'JAJANG', 'YAYAN', 'ADE', 'OMAN', 'AGUS', 'DENI', 'HERMAN', 'ENCEP', 'AEP'];
const SUNDA_F = ['ENTIN', 'IMAS', 'NENG', 'EUIS', 'CUCU', 'NENENG', 'YAYAH', 'ELIS', 'TITIN', 'IIS', 'ENOK', 'EUTIK', 'NANI', 'YATI'];
const SUNDA_2 = ['SUPRIATNA', 'SOBARI', 'HIDAYAT', 'KURNIA', 'RUKMANA', 'SETIAWAN', 'PERMANA', 'SUNARYA', 'GUMILAR', 'SUHERMAN', 'SUMARNA', 'KUSNADI', 'SOLIHIN', 'MULYANA', 'RAHMAT'];
const BALI_ORDER_M = [['WAYAN', 'PUTU', 'GEDE'], ['MADE', 'KADEK'], ['NYOMAN', 'KOMANG'], ['KETUT']];
const BALI_ORDER_F = [['WAYAN', 'PUTU', 'LUH'], ['MADE', 'KADEK'], ['NYOMAN', 'KOMANG'], ['KETUT']];
const BALI_M = ['SUDARTA', 'ARTAWAN', 'SUARDANA', 'MERTA', 'ASTAWA', 'WIRAWAN', 'DARMAWAN', 'SUKARDA', 'SUDIARTA', 'PARWATA', 'SUWENA', 'ARDANA', 'JAYA', 'SUPARTA'];
const BALI_F = ['SUARTINI', 'ARIANI', 'WIDIASIH', 'PURNAMI', 'SUKERTI', 'ASTITI', 'SUDIANI', 'MURNI', 'SRIANI', 'ARMINI', 'KARIASIH'];
const BATAK_M = ['JONI', 'HOTMAN', 'PARULIAN', 'RONALD', 'BENNY', 'DAVID', 'MARULI', 'TUMPAL', 'JUNAIDI', 'AHMAD', 'POLTAK', 'SAHAT', 'BONAR', 'RAJA'];
const BATAK_F = ['MARIA', 'ROSMAWATI', 'LAMRIA', 'DUMARIA', 'SURYANI', 'NURMALA', 'HOTNIDA', 'RUSLIANA', 'TIOMINAR', 'MASDALENA', 'ROTUA'];
const BATAK_CLAN = ['SIREGAR', 'NASUTION', 'SIMANJUNTAK', 'LUBIS', 'HARAHAP', 'SITUMORANG', 'PANJAITAN', 'HUTAGALUNG', 'SINAGA', 'SIHOMBING', 'MANURUNG', 'SIMATUPANG', 'TAMPUBOLON', 'PANGARIBUAN', 'SARAGIH', 'DAMANIK', 'GINTING', 'TARIGAN', 'SEMBIRING', 'PASARIBU'];
const CHRISTIAN_M = ['YOHANES', 'PETRUS', 'PAULUS', 'MARKUS', 'YOSEF', 'FRANSISKUS', 'STEFANUS', 'ANTONIUS', 'YAKOBUS', 'MATIUS', 'ROBERT', 'DANIEL', 'YULIUS'];
const CHRISTIAN_F = ['MARIA', 'MAGDALENA', 'ELISABETH', 'KRISTINA', 'VERONIKA', 'AGUSTINA', 'YOHANA', 'MARTHA', 'REGINA', 'SELFINA', 'DORKAS'];
const CHRISTIAN_SUR = ['LAKA', 'TEFA', 'NDUN', 'BANA', 'LEKI', 'WONDA', 'WENDA', 'MANDEY', 'RUNTU', 'TAMPI', 'LUMENTA', 'KAMBU', 'RUMBEWAS', 'SERAN', 'BEREK'];
const CHINESE_M = ['HENDRA', 'WILLY', 'KEVIN', 'STEVEN', 'SUSANTO', 'LIMANTO', 'GUNAWAN', 'HARYANTO', 'JOHAN', 'FELIX'];
const CHINESE_F = ['LILY', 'MELIANA', 'SUSANTI', 'LINDA', 'VIVI', 'JESSICA', 'MEILINA', 'SHERLY', 'YENNY'];
const CHINESE_SUR = ['TANOTO', 'WIJAYA', 'HALIM', 'SALIM', 'TANJUNG', 'SANTOSO', 'KUSUMA', 'GUNAWAN', 'LIM', 'TAN', 'SETIADI'];

/** Naming style mix per province code. */
export function styleFor(rng: Rng, province: string): Style {
  const r = rng.next();
  if (province === '51') return r < 0.9 ? 'balinese' : 'muslim';
  if (province === '12') return r < 0.45 ? 'batak' : r < 0.9 ? 'muslim' : 'chinese';
  if (province === '32' || province === '36') return r < 0.55 ? 'sundanese' : r < 0.95 ? 'muslim' : 'javanese';
  if (province === '33' || province === '34' || province === '35') return r < 0.65 ? 'javanese' : 'muslim';
  if (province === '31') return r < 0.3 ? 'javanese' : r < 0.7 ? 'muslim' : r < 0.8 ? 'sundanese' : r < 0.9 ? 'chinese' : 'batak';
  if (['53', '81', '82', '71', '91', '92', '93', '94', '95', '96'].includes(province)) return r < 0.75 ? 'christian' : 'muslim';
  return r < 0.8 ? 'muslim' : 'javanese';
}

export interface NameContext {
  style: Style;
  sex: 'L' | 'P';
  birthYear: number;
  /** 1-based birth order among siblings (Balinese names) */
  order: number;
  /** family name passed down (Batak clan, eastern or Chinese surname) */
  familyName?: string;
  /** multiplier of how skewed name frequencies are (profiles.ts nameSkew) */
  skew?: number;
}

export function familyNameFor(rng: Rng, style: Style, skew = 1): string | undefined {
  if (style === 'batak') return rng.skewed(BATAK_CLAN, 0.6 * skew);
  if (style === 'christian') return rng.skewed(CHRISTIAN_SUR, 0.6 * skew);
  if (style === 'chinese') return rng.skewed(CHINESE_SUR, 0.6 * skew);
  return undefined;
}

export function givenName(rng: Rng, c: NameContext): string {
  const m = c.sex === 'L';
  const sk = <T>(xs: readonly T[], power = 1.1) => rng.skewed(xs, power * (c.skew ?? 1));
  switch (c.style) {
    case 'javanese':
      if (c.birthYear < 1975 || rng.chance(0.3)) return sk(m ? JAVANESE_M : JAVANESE_F);
      return sk(m ? JAVANESE_YOUNG_M : JAVANESE_YOUNG_F, 0.5);
    case 'sundanese':
      return rng.chance(0.5) ? sk(m ? SUNDA_M : SUNDA_F) : `${sk(m ? SUNDA_M : SUNDA_F)} ${sk(SUNDA_2, 0.6)}`;
    case 'muslim': {
      const first = sk(m ? MUSLIM_M1 : MUSLIM_F1);
      if (c.birthYear < 1965 && rng.chance(0.35)) return first;
      const second = sk(m ? MUSLIM_M2 : MUSLIM_F2, 0.5);
      return first === second ? first : rng.chance(0.15) ? `${first} ${sk(m ? MUSLIM_M1 : MUSLIM_F1)} ${second}` : `${first} ${second}`;
    }
    case 'balinese': {
      const orders = (m ? BALI_ORDER_M : BALI_ORDER_F)[(c.order - 1) % 4];
      return `${m ? 'I' : 'NI'} ${rng.pick(orders)} ${sk(m ? BALI_M : BALI_F, 0.5)}`;
    }
    case 'batak':
      return `${sk(m ? BATAK_M : BATAK_F, 0.5)} ${c.familyName ?? rng.pick(BATAK_CLAN)}`;
    case 'christian':
      return `${sk(m ? CHRISTIAN_M : CHRISTIAN_F, 0.5)} ${c.familyName ?? rng.pick(CHRISTIAN_SUR)}`;
    case 'chinese':
      return `${sk(m ? CHINESE_M : CHINESE_F, 0.5)} ${c.familyName ?? rng.pick(CHINESE_SUR)}`;
  }
}

/** A near-identical but different sibling name (HASAN/HUSEIN style) for twins. */
export function twinName(rng: Rng, name: string, c: NameContext): string {
  for (let attempt = 0; attempt < 20; attempt++) {
    const t = twinNameOnce(rng, name, c);
    if (t !== name) return t;
  }
  return `${name.split(' ')[0]} ${givenName(rng, { ...c, style: 'muslim' })}`;
}

function twinNameOnce(rng: Rng, name: string, c: NameContext): string {
  const pairs: [string, string][] = [['HASAN', 'HUSEIN'], ['FATIMAH', 'FATIMATUZ'], ['RIZKI', 'RIZKA'], ['DWI', 'TRI'], ['PUTRA', 'PUTRI'], ['ANDI', 'ANDRE']];
  for (const [a, b] of pairs) {
    if (name.includes(a)) return name.replace(a, b);
    if (name.includes(b)) return name.replace(b, a);
  }
  const tokens = name.split(' ');
  if (tokens.length > 1 && rng.chance(0.6)) {
    tokens[0] = givenName(rng, c).split(' ')[0];
    return tokens.join(' ');
  }
  return givenName(rng, c);
}
