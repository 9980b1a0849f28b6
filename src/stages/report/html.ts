/** The first report.html: self-contained (inline CSS and SVG, no scripts, no network), no personal data. */

export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(4)) : esc(v));

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (!rows.length) return '<p class="none">none</p>';
  return `<table><thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${columns.map((c) => `<td class="${typeof r[c] === 'number' ? 'num' : ''}">${fmt(r[c])}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** A horizontal bar chart as inline SVG. */
export function barChart(title: string, bars: { label: string; value: number }[], width = 640): string {
  if (!bars.length) return '';
  const max = Math.max(...bars.map((b) => b.value), 1);
  const rowH = 22;
  const labelW = 220;
  const h = bars.length * rowH + 30;
  const body = bars
    .map((b, i) => {
      const w = ((width - labelW - 90) * b.value) / max;
      const y = 24 + i * rowH;
      return `<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${esc(b.label)}</text><rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="#3b6ea5"/><text x="${labelW + w + 4}" y="${y + 14}">${fmt(b.value)}</text>`;
    })
    .join('');
  return `<svg class="chart" role="img" aria-label="${esc(title)}" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" xmlns="http://www.w3.org/2000/svg"><text x="0" y="14" class="title">${esc(title)}</text>${body}</svg>`;
}

export function page(title: string, sections: { heading: string; body: string }[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1000px;color:#1d2733;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d5dbe3;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}th,td{border:1px solid #d5dbe3;padding:.25rem .6rem;text-align:left}
th{background:#eef2f7}td.num{text-align:right;font-variant-numeric:tabular-nums}.none{color:#777}
svg.chart{display:block;margin:.6rem 0;font-size:12px}svg.chart .title{font-weight:600}
.ok{color:#1a7f37}.bad{color:#b42318}
</style></head><body><h1>${esc(title)}</h1>
${sections.map((s) => `<section><h2>${esc(s.heading)}</h2>${s.body}</section>`).join('\n')}
</body></html>
`;
}
