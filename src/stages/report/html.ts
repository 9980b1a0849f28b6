/** The page of report.html: self-contained (inline CSS and SVG, no script, no network), no personal data. */

export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export type Format = 'int' | 'pct' | 'num' | 'dec' | 'prob' | 'text';

/** A figure as people read it: whole numbers with thousands separators, shares as percentages. */
export function fmt(v: unknown, f: Format = 'text'): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return esc(v);
    if (f === 'pct') return `${(v * 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}%`;
    // a probability near 1 as its distance from 1, which four decimals would round away
    if (f === 'prob') return v > 0.9999 && v < 1 ? `1 − ${(1 - v).toExponential(1).replace('e-', '×10<sup>−').concat('</sup>')}` : v.toLocaleString('en-US', { maximumFractionDigits: 4 });
    if (f === 'dec') return v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    if (f === 'num') return v.toLocaleString('en-US', { maximumFractionDigits: 4 });
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return v.toLocaleString('en-US', { maximumFractionDigits: 4 });
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return esc(v);
}

/** A column of a table of rows of type T: the key of the figure, its heading (the key by default) and format. */
export interface Column<T> {
  key: keyof T & string;
  label?: string;
  format?: Format;
}

const col = <T>(c: (keyof T & string) | Column<T>): Column<T> => (typeof c === 'string' ? { key: c } : c);

/** A table of rows (any object type: the columns name its keys), in a box that scrolls sideways on a narrow screen. */
export function table<T extends object>(rows: readonly T[], columns: ((keyof T & string) | Column<T>)[], caption?: string): string {
  if (!rows.length) return '<p class="none">none</p>';
  const cols = columns.map(col);
  const numeric = (c: Column<T>) => c.format !== 'text' && rows.some((r) => typeof r[c.key] === 'number');
  return `<div class="table-wrap"><table>${caption ? `<caption>${esc(caption)}</caption>` : ''}<thead><tr>${cols
    .map((c) => `<th${numeric(c) ? ' class="num"' : ''}>${esc(c.label ?? c.key.replaceAll('_', ' '))}</th>`)
    .join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${cols.map((c) => `<td${numeric(c) ? ' class="num"' : ''}>${fmt(r[c.key], c.format)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>`;
}

/** Key figures as a row of tiles. */
export function tiles(items: { label: string; value: string; note?: string }[]): string {
  return `<div class="tiles">${items
    .map((t) => `<div class="tile"><div class="value">${t.value}</div><div class="label">${esc(t.label)}</div>${t.note ? `<div class="note">${esc(t.note)}</div>` : ''}</div>`)
    .join('')}</div>`;
}

export interface Section {
  id: string;
  heading: string;
  body: string;
}

/** The page: `css` adds rules of its own (the charts' layouts) after the page's. */
export function page(title: string, subtitle: string, sections: Section[], css = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>
:root{--ink:#1d2733;--muted:#5b6775;--line:#d5dbe3;--bg:#f6f8fb}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:var(--ink);background:var(--bg);line-height:1.45}
main{max-width:1040px;margin:0 auto;padding:1.5rem 1.25rem 3rem}
header{background:#fff;border-bottom:1px solid var(--line)}header .in{max-width:1040px;margin:0 auto;padding:1.25rem}
h1{font-size:1.55rem;margin:0 0 .3rem}.subtitle{color:var(--muted);margin:0}
h2{font-size:1.2rem;margin:0 0 .5rem}h3{font-size:1rem;margin:1.2rem 0 .3rem}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}
p{margin:.4rem 0;max-width:52rem}.explain{color:var(--muted)}
nav ol{columns:2;margin:.3rem 0;padding-left:1.2rem}nav a{color:#2b5c8f}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}caption{text-align:left;font-weight:600;padding:.2rem 0}
th,td{border:1px solid var(--line);padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#eef2f7;font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums}
.none{color:#777;font-style:italic}
figure.chart{margin:.8rem 0;max-width:100%;container-type:inline-size}figure.chart svg{display:block;max-width:100%;height:auto}figure.chart svg.narrow{display:none}
.table-wrap{max-width:100%;overflow-x:auto;-webkit-overflow-scrolling:touch}
/* a table wider than its box scrolls inside it; a shadow at an edge shows there is more to that side */
.table-wrap{background:linear-gradient(to right,#fff 30%,#fff0) left/24px 100% no-repeat local,linear-gradient(to left,#fff 30%,#fff0) right/24px 100% no-repeat local,radial-gradient(farthest-side at 0 50%,#0003,#0000) left/10px 100% no-repeat scroll,radial-gradient(farthest-side at 100% 50%,#0003,#0000) right/10px 100% no-repeat scroll}
td.id{white-space:nowrap;font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:.8rem}tr.command td{border-top:none;padding-bottom:.5rem}tr.pair td{border-bottom:none}
td.code,.code code{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:.8rem;overflow-wrap:anywhere}
details{margin:.6rem 0}pre.config{background:#f3f5f8;border:1px solid var(--line);border-radius:6px;padding:.6rem;font-size:.78rem;overflow-x:auto;max-width:100%}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.6rem;margin:.6rem 0}
.tile{border:1px solid var(--line);border-radius:6px;padding:.5rem .7rem;background:#fbfcfe}
.tile .value{font-size:1.3rem;font-weight:650;font-variant-numeric:tabular-nums}.tile .label{color:var(--muted);font-size:.85rem}
.tile .note{color:var(--muted);font-size:.75rem}
.ok{color:#1a7f37}.bad{color:#b42318}
footer{color:var(--muted);font-size:.8rem;max-width:1040px;margin:0 auto;padding:0 1.25rem 2rem}
@media (max-width:640px){main{padding:.75rem .5rem 2rem}header .in{padding:.75rem .5rem}section{padding:.75rem .6rem;border-radius:6px}
h1{font-size:1.25rem}nav ol{columns:1}table{font-size:.8rem}th,td{padding:.2rem .35rem}.tiles{grid-template-columns:repeat(auto-fill,minmax(130px,1fr))}}
${css}</style></head><body>
<header><div class="in"><h1>${esc(title)}</h1><p class="subtitle">${subtitle}</p></div></header>
<main>
<nav aria-label="contents"><ol>${sections.map((s) => `<li><a href="#${esc(s.id)}">${esc(s.heading)}</a></li>`).join('')}</ol></nav>
${sections.map((s) => `<section id="${esc(s.id)}"><h2>${esc(s.heading)}</h2>${s.body}</section>`).join('\n')}
</main>
<footer>Every figure on this page is in report.json beside it; the charts are drawn from it when the batch ends. The report holds counts only: no NIK, name or address.</footer>
</body></html>
`;
}
