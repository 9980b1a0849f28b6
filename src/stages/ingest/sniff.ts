/** Looks at the start of a text file before DuckDB reads it: binary garbage, encoding, header, delimiter. */
import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { InputError } from '../../engine/errors.ts';

const SAMPLE_BYTES = 1 << 20;

export async function readSample(file: string): Promise<Buffer> {
  if (/\.gz$/i.test(file)) {
    return await new Promise<Buffer>((resolveSample, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const src = createReadStream(file);
      const gz = createGunzip();
      const finish = () => {
        src.destroy();
        gz.destroy();
        resolveSample(Buffer.concat(chunks).subarray(0, SAMPLE_BYTES));
      };
      gz.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size >= SAMPLE_BYTES) finish();
      });
      gz.on('end', finish);
      gz.on('error', (e) => reject(new InputError(`not a readable gzip file (${e.message})`, { file })));
      src.on('error', reject);
      src.pipe(gz);
    });
  }
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(SAMPLE_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SAMPLE_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** A file whose sample holds NUL bytes or many control characters is not a text snapshot. */
export function looksBinary(sample: Buffer): boolean {
  if (sample.length === 0) return false;
  let control = 0;
  for (const b of sample.subarray(0, 65536)) {
    if (b === 0) return true;
    if (b < 9 || (b > 13 && b < 32)) control++;
  }
  return control / Math.min(sample.length, 65536) > 0.01;
}

/** 'utf-8' when the sample decodes as UTF-8, else 'latin-1' (covers Windows-1252 exports well enough for names). */
export function detectEncoding(sample: Buffer): 'utf-8' | 'latin-1' {
  // Cut the sample at its last newline so a multi-byte character is never split.
  const nl = sample.lastIndexOf(0x0a);
  const body = nl > 0 && sample.length >= SAMPLE_BYTES ? sample.subarray(0, nl) : sample;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(body);
    return 'utf-8';
  } catch {
    return 'latin-1';
  }
}

/** Splits one CSV line on `delim`, honouring `quote` (doubled quotes inside a quoted field). */
export function splitCsvLine(line: string, delim: string, quote: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQuotes = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote && ch === quote) {
      if (inQuotes && line[i + 1] === quote) {
        cur += quote;
        i++;
      } else inQuotes = !inQuotes;
    } else if (ch === delim && !inQuotes) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

const OTHER_DELIMITERS = [';', ',', '\t', '|'];

/** Reads and checks the header line; returns the column names as written (trimmed). */
export function parseHeader(sample: Buffer, encoding: 'utf-8' | 'latin-1', file: string, delim: string, quote: string): string[] {
  if (sample.length === 0) throw new InputError('file is empty', { file, row: 0, expected: 'a header row and data rows' });
  if (looksBinary(sample)) throw new InputError('file is not a text CSV file (binary content)', { file, expected: 'a CSV file with a header row' });
  let text = sample.toString(encoding === 'utf-8' ? 'utf8' : 'latin1');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const end = text.indexOf('\n');
  const line = (end >= 0 ? text.slice(0, end) : text).replace(/\r$/, '');
  if (line.trim() === '') throw new InputError('the header row is empty', { file, row: 0, expected: 'a header row naming the columns' });
  const cols = splitCsvLine(line, delim, quote).map((c) => c.trim());
  if (cols.length === 1) {
    const other = OTHER_DELIMITERS.find((d) => d !== delim && line.includes(d));
    const shown = delim === '\t' ? 'TAB' : delim;
    throw new InputError(
      other ? `the header is not '${shown}'-separated; it looks '${other === '\t' ? 'TAB' : other}'-separated` : `the header has a single column`,
      { file, row: 0, expected: `columns separated by '${shown}' (csv.delimiter in the mapping)` },
    );
  }
  return cols;
}
