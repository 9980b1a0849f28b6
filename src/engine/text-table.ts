/** A plain text table for the terminal. */
export function printTable(out: NodeJS.WritableStream, rows: readonly object[], columns: string[]): void {
  const at = (r: object, c: string) => (r as Record<string, unknown>)[c];
  const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(4)) : String(v ?? ''));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(at(r, c)).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  out.write(`${line(columns)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const r of rows) out.write(`${line(columns.map((c) => cell(at(r, c))))}\n`);
}
