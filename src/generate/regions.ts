/** Real villages (Kemendagri codes, idn-area-data; data ODbL) to place the synthetic families in. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceDataDir } from '../engine/reference.ts';
import { cumulate, type Rng } from './rng.ts';

export interface Village {
  /** 10 digits, no dots */
  code: string;
  district: string;
  province: string;
  name: string;
  districtName: string;
  regencyName: string;
  provinceName: string;
}

/** Rough population weights per province code (millions), so Java dominates as it does. */
const PROVINCE_WEIGHT: Record<string, number> = {
  '11': 5.4, '12': 15.1, '13': 5.6, '14': 6.6, '15': 3.6, '16': 8.6, '17': 2.0, '18': 9.0, '19': 1.5, '21': 2.1,
  '31': 10.7, '32': 49.9, '33': 37.5, '34': 3.7, '35': 41.4, '36': 12.3, '51': 4.3, '52': 5.5, '53': 5.5,
  '61': 5.5, '62': 2.7, '63': 4.1, '64': 3.9, '65': 0.7, '71': 2.6, '72': 3.1, '73': 9.2, '74': 2.7, '75': 1.2, '76': 1.4,
  '81': 1.9, '82': 1.3, '91': 1.1, '92': 0.6, '93': 1.0, '94': 1.4, '95': 1.1, '96': 0.6,
};

function readCsv(file: string): string[][] {
  const text = readFileSync(join(referenceDataDir(), file), 'utf8');
  return text
    .split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => {
      // The reference files quote names with commas; split on commas outside quotes.
      const out: string[] = [];
      let cur = '';
      let q = false;
      for (const ch of l.replace(/\r$/, '')) {
        if (ch === '"') q = !q;
        else if (ch === ',' && !q) {
          out.push(cur);
          cur = '';
        } else cur += ch;
      }
      out.push(cur);
      return out;
    });
}

/** Picks `count` villages, provinces weighted by population, deterministic for the rng state. */
export function sampleVillages(rng: Rng, count: number, weights?: Record<string, number>): Village[] {
  const provinces = new Map(readCsv('provinces.csv').map(([code, name]) => [code, name]));
  const regencies = new Map(readCsv('regencies.csv').map(([code, , name]) => [code, name]));
  const districts = new Map(readCsv('districts.csv').map(([code, , name]) => [code, name]));
  const byProvince = new Map<string, string[][]>();
  for (const row of readCsv('villages.csv')) {
    const p = row[0].slice(0, 2);
    if (!byProvince.has(p)) byProvince.set(p, []);
    byProvince.get(p)!.push(row);
  }
  const codes = [...byProvince.keys()].sort();
  const cum = cumulate(codes.map((c) => (weights ? (weights[c] ?? 0.2) : (PROVINCE_WEIGHT[c] ?? 1))));
  const chosen = new Set<string>();
  const out: Village[] = [];
  for (let guard = 0; out.length < count && guard < count * 20; guard++) {
    const rows = byProvince.get(codes[rng.weighted(cum)])!;
    const [code, districtCode, name] = rows[rng.int(0, rows.length - 1)];
    if (chosen.has(code)) continue;
    chosen.add(code);
    out.push({
      code: code.replaceAll('.', ''),
      district: districtCode.replaceAll('.', ''),
      province: code.slice(0, 2),
      name,
      districtName: districts.get(districtCode) ?? '',
      regencyName: regencies.get(code.slice(0, 5)) ?? '',
      provinceName: provinces.get(code.slice(0, 2)) ?? '',
    });
  }
  return out;
}

/** Kemendagri dotted form PP.KK.CC.DDDD */
export function dotted(code: string): string {
  return `${code.slice(0, 2)}.${code.slice(2, 4)}.${code.slice(4, 6)}.${code.slice(6)}`;
}
