// The review app's page: Preact components written with htm (no build step), served by `dtsen review`.
// Every value shown comes from the server, masked unless the reviewer revealed it there (which is audited).
import { h, render } from 'preact';
import { useEffect, useState, useCallback, useRef } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
const TOKEN = document.querySelector('meta[name="review-token"]').content;
const QUEUE_LABEL = { pairs: 'Uncertain pairs', clusters: 'Flagged clusters', persons: 'Conflicting persons', decisions: 'Decisions not applied' };
const QUEUE_ROUTE = { pairs: 'pairs', clusters: 'clusters', persons: 'persons', decisions: 'decisions' };
// timings of "decision → next pair shown", read by the bench
window.__review = { timings: [], opened: null };

async function api(path, body) {
  const res = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'x-review-token': TOKEN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error(data.error ?? `${res.status}`);
  return data;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  const parts = path.split('/').filter(Boolean);
  return { parts, query: new URLSearchParams(query ?? '') };
}
const go = (hash) => { location.hash = hash; };
const fmt = (x, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? '' : Number(x).toFixed(d));
const pct = (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
const isMask = (v) => v === 'present' || v === 'missing';
const Val = ({ v }) => (v === null || v === undefined ? html`<span class="masked">–</span>` : isMask(v) ? html`<span class="masked">${v}</span>` : html`${v}`);
const Priority = ({ p }) => (p === 1 ? html`<span class="pill p1" title="deciles 1–4 or a programme">priority</span>` : null);

function typing(e) {
  const t = e.target;
  return t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
}

// ------------------------------------------------------------------ shell

function App() {
  const [route, setRoute] = useState(parseHash());
  const [state, setState] = useState(null);
  const [error, setError] = useState(null);
  const refresh = useCallback(() => api('/api/state').then(setState).catch((e) => setError(e.message)), []);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    window.addEventListener('hashchange', on);
    refresh();
    return () => window.removeEventListener('hashchange', on);
  }, []);
  if (error) return html`<main><div class="error">${error}</div></main>`;
  if (!state) return html`<p class="loading">Loading…</p>`;
  if (!state.reviewer) return html`<${AskName} onDone=${setState} />`;
  const [first] = route.parts;
  let body;
  if (!first) body = html`<${Home} state=${state} />`;
  else if (first === 'q') body = html`<${QueueList} queue=${route.parts[1]} key=${route.parts[1]} />`;
  else if (first === 'pairs') body = html`<${PairView} pos=${Number(route.parts[1])} refresh=${refresh} key=${'p'} />`;
  else if (first === 'pair') body = html`<${PairView} refs=${[route.query.get('a'), route.query.get('b')]} from=${route.query.get('from') ?? 'search'} refresh=${refresh} key=${route.query.toString()} />`;
  else if (first === 'clusters') body = html`<${ClusterView} pos=${Number(route.parts[1])} refresh=${refresh} key=${route.parts[1]} />`;
  else if (first === 'persons') body = html`<${PersonView} pos=${Number(route.parts[1])} state=${state} refresh=${refresh} key=${route.parts[1]} />`;
  else if (first === 'person') body = html`<${PersonView} id=${route.parts[1]} state=${state} refresh=${refresh} key=${route.parts[1]} />`;
  else if (first === 'decisions') body = html`<${DecisionView} pos=${Number(route.parts[1])} key=${route.parts[1]} />`;
  else if (first === 'search') body = html`<${SearchView} q=${route.query.get('q') ?? ''} key=${route.query.get('q')} />`;
  else body = html`<div class="error">Unknown page</div>`;
  return html`
    <header>
      <h1>dtsen review</h1>
      <nav>
        <a href="#/" class=${!first ? 'on' : ''}>Overview</a>
        ${state.queues.map((q) => html`<a href=${`#/q/${q.queue}`} data-queue=${q.queue} class=${(first === 'q' && route.parts[1] === q.queue) || first === QUEUE_ROUTE[q.queue] ? 'on' : ''}>${QUEUE_LABEL[q.queue]} <span class="muted">${q.items - q.done}</span></a>`)}
      </nav>
      <${SearchBox} />
      <span class="who">reviewer: <b>${state.reviewer}</b></span>
    </header>
    <main>${body}</main>`;
}

function AskName({ onDone }) {
  const [name, setName] = useState('');
  const [error, setError] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    api('/api/reviewer', { name }).then(onDone).catch((x) => setError(x.message));
  };
  return html`<main><section class="card">
    <h2>Who is reviewing?</h2>
    <p class="muted">Your name is written with every decision and every reveal of personal values (the audit log).</p>
    ${error && html`<div class="error">${error}</div>`}
    <form onSubmit=${submit} class="actions"><input id="reviewer" value=${name} onInput=${(e) => setName(e.target.value)} placeholder="name" autofocus />
    <button class="primary" type="submit">Start reviewing</button></form></section></main>`;
}

function SearchBox() {
  const [q, setQ] = useState('');
  const submit = (e) => { e.preventDefault(); if (q.trim()) go(`#/search?q=${encodeURIComponent(q.trim())}`); };
  return html`<form onSubmit=${submit}><input id="search" value=${q} onInput=${(e) => setQ(e.target.value)} placeholder="record id, dtsen_id, NIK or name" size="30" /><button type="submit">Search</button></form>`;
}

function Home({ state }) {
  useEffect(() => { if (window.__review.opened === null) window.__review.opened = performance.now(); }, []);
  const a = state.agreement;
  return html`
    <section class="card"><h2>Queues</h2>
      <p class="muted">Each queue puts first the persons in deciles 1–4 or receiving a programme, then (pairs) the closest to the threshold (${fmt(state.threshold, 4)}, band ±${state.band_bits} bits).</p>
      <div class="queues">${state.queues.map((q) => html`
        <a href=${`#/q/${q.queue}`} class="card" data-queue-card=${q.queue}><section class="card">
          <div class="muted">${QUEUE_LABEL[q.queue]}</div>
          <div class="big">${q.items - q.done}</div>
          <div class="muted">to review of ${q.items}; ${q.priority} priority; ${q.done} decided</div></section></a>`)}</div>
    </section>
    <section class="card"><h2>Progress</h2>
      ${state.progress.length ? html`<table id="progress"><thead><tr><th>queue</th><th>kind</th><th class="num">decisions in the store</th><th class="num">this session</th></tr></thead>
        <tbody>${state.progress.map((p) => html`<tr><td>${p.queue}</td><td>${p.kind}</td><td class="num">${p.decisions}</td><td class="num">${p.this_session}</td></tr>`)}</tbody></table>` : html`<p class="muted">No decision yet.</p>`}
      <p>Agreement with the batch: ${a.pair_decisions} pair decisions, ${a.overturned} overturned its call (${pct(a.overturned_share)}).</p>
      <p class="muted">Decisions are appended to <code>${state.store}</code> at once; the next batch run with it applies them.</p>
    </section>`;
}

// ------------------------------------------------------------------ queues

function QueueList({ queue }) {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { api(`/api/queue/${queue}?after=0&limit=200`).then(setRows).catch((e) => setError(e.message)); }, [queue]);
  const start = () => api(`/api/queue/${queue}/next?after=0`).then((r) => (r.pos === null ? setError('Nothing left to review in this queue.') : go(`#/${QUEUE_ROUTE[queue]}/${r.pos}`)));
  if (error) return html`<div class="error">${error}</div>`;
  if (!rows) return html`<p class="loading">Loading…</p>`;
  const cols = {
    pairs: [['records', (r) => html`${r.record_l} ~ ${r.record_r}`], ['p', (r) => fmt(r.match_probability, 4)], ['weight', (r) => fmt(r.match_weight, 2)], ['batch', (r) => (r.same_person ? 'one person' : 'two persons')]],
    clusters: [['records', (r) => r.n_records], ['conflicts', (r) => r.n_conflicts], ['outcome', (r) => r.outcome], ['reasons', (r) => (r.reasons ?? []).join(', ')]],
    persons: [['dtsen_id', (r) => r.dtsen_id], ['conflicts', (r) => (r.types ?? []).join(', ')], ['records', (r) => r.n_records]],
    decisions: [['decision', (r) => `#${r.decision_no} ${r.kind}`], ['status', (r) => r.status], ['detail', (r) => r.detail], ['reference', (r) => r.reference]],
  }[queue];
  return html`<section class="card"><h2>${QUEUE_LABEL[queue]}</h2>
    <div class="actions"><button class="primary" id="start" onClick=${start}>Review the next one</button><span class="muted">${rows.length} shown, in order of priority</span></div>
    <table id="queue-list" data-queue=${queue}><thead><tr><th>#</th><th></th>${cols.map(([c]) => html`<th>${c}</th>`)}</tr></thead>
    <tbody>${rows.map((r) => html`<tr class=${r.done ? 'done' : ''} data-pos=${r.pos}><td><a href=${`#/${QUEUE_ROUTE[queue]}/${r.pos}`}>${r.pos}</a></td><td><${Priority} p=${r.priority} /></td>${cols.map(([, f]) => html`<td>${f(r)}</td>`)}</tr>`)}</tbody></table></section>`;
}

// ------------------------------------------------------------------ pair view

function FieldTable({ records, fields }) {
  return html`<table class="fields"><thead><tr><th>field</th>${records.map((r) => html`<th>${r.record}${r.revealed ? '' : html` <span class="muted">(masked)</span>`}</th>`)}</tr></thead>
    <tbody>${fields.map((f) => html`<tr class=${f.same === false ? 'differs' : ''} data-field=${f.field}><td>${f.field}${f.same === false ? html` <span class="pill">differs</span>` : ''}</td>${f.values.map((v) => html`<td class="v"><${Val} v=${v} /></td>`)}</tr>`)}</tbody></table>`;
}

function Waterfall({ w }) {
  const all = [w.prior.weight, ...w.comparisons.map((c) => c.running)];
  const lo = Math.min(0, ...all);
  const hi = Math.max(0, ...all);
  const scale = (x) => (Math.abs(x) / Math.max(1e-9, hi - lo)) * 220;
  const bar = (x) => html`<span class=${`bar ${x >= 0 ? 'pos' : 'neg'}`} style=${`width:${scale(x)}px`}></span>`;
  return html`<table id="waterfall"><thead><tr><th>term</th><th class="num">gamma</th><th>level</th><th class="num">weight</th><th class="num">tf adj</th><th class="num">running</th><th></th></tr></thead><tbody>
    <tr><td>prior</td><td></td><td>lambda = ${w.prior.lambda}</td><td class="num">${fmt(w.prior.weight, 6)}</td><td></td><td class="num">${fmt(w.prior.weight, 6)}</td><td>${bar(w.prior.weight)}</td></tr>
    ${w.comparisons.map((c) => html`<tr data-term=${c.comparison}><td>${c.comparison}</td><td class="num">${c.gamma}</td><td>${c.level}</td><td class="num">${c.weight >= 0 ? '+' : ''}${fmt(c.weight, 6)}</td><td class="num">${c.tf_adjustment === null ? '' : fmt(c.tf_adjustment, 6)}</td><td class="num">${fmt(c.running, 6)}</td><td>${bar(c.weight + (c.tf_adjustment ?? 0))}</td></tr>`)}
    <tr><th colspan="5">total match weight</th><th class="num" id="total-weight">${fmt(w.match_weight, 6)}</th><td></td></tr></tbody></table>
    <p>match probability <b id="probability">${w.match_probability}</b>; threshold ${w.threshold} (${w.over_threshold ? 'over' : 'under'})${w.hard_negative ? '; a hard negative' : ''}; ${w.linkable ? 'links the records' : 'does not link them'}${w.from === 'explain' ? ' (scored now: blocking never proposed it)' : ''}.</p>`;
}

function Context({ context }) {
  return html`<div class="grid2">${context.map((c) => html`<div><h3>${c.record}</h3>
    <p>person <a href=${`#/person/${c.dtsen_id}`}>${c.dtsen_id}</a>, family ${c.family_id ?? '–'}</p>
    <table><thead><tr><th>family member</th><th>relation</th><th class="num">decile</th><th>programmes</th><th class="num">records</th></tr></thead>
    <tbody>${c.members.map((m) => html`<tr><td><a href=${`#/person/${m.dtsen_id}`}>${m.dtsen_id}</a>${m.head ? ' (head)' : ''}${m.this ? ' ← this' : ''}</td><td>${m.relation ?? ''}</td><td class="num">${m.decile ?? ''}</td><td>${m.programmes.join(', ')}</td><td class="num">${m.n_records}</td></tr>`)}</tbody></table>
    ${c.source_family_records.length ? html`<p class="muted">same source household: ${c.source_family_records.join(', ')}</p>` : ''}</div>`)}</div>`;
}

function useReference() {
  const [reference, setReference] = useState(localStorage.getItem('dtsen-review-reference') ?? '');
  const set = (v) => { setReference(v); localStorage.setItem('dtsen-review-reference', v); };
  return [reference, set];
}

function PairView({ pos, refs, from, refresh }) {
  const [item, setItem] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [note, setNote] = useState('');
  const [reference, setReference] = useReference();
  const busy = useRef(false);
  const t0 = useRef(null);
  // the pair after this one, fetched while the reviewer looks at this one
  const upcoming = useRef(null);
  const load = (at = item?.pos ?? pos) => (refs ? api(`/api/pair?a=${encodeURIComponent(refs[0])}&b=${encodeURIComponent(refs[1])}`) : api(`/api/queue/pairs/${at}`)).then(setItem).catch((e) => setError(e.message));
  useEffect(() => { if (!item || (!refs && item.pos !== pos)) load(pos); }, [pos]);
  useEffect(() => {
    if (item && t0.current !== null) {
      window.__review.timings.push(performance.now() - t0.current);
      t0.current = null;
    }
    if (item && window.__review.opened === null) window.__review.opened = performance.now();
    if (item?.pos) {
      const after = item.pos;
      upcoming.current = { after, promise: api(`/api/queue/pairs/next?after=${after}`).then((r) => r.item).catch(() => null) };
    }
  }, [item]);
  const prefetched = async (after) => {
    const u = upcoming.current;
    if (!u || u.after !== after) return undefined;
    const next = await u.promise;
    return next && next.pos !== after ? next : undefined;
  };
  const decide = async (kind) => {
    if (busy.current || !item) return;
    busy.current = true;
    t0.current = performance.now();
    setError(null);
    try {
      const ready = refs ? undefined : upcoming.current?.after === item.pos;
      const r = await api('/api/decide', refs ? { kind, records: refs, queue: from, note, reference } : { kind, pos: item.pos, note, reference, next: !ready });
      setNote('');
      setNotice(`${kind.replace('_', ' ')} written to the decisions store (line ${r.lines.join(', ')}).`);
      if (refs) { t0.current = null; refresh(); history.back(); return; }
      const next = r.next ?? (await prefetched(item.pos)) ?? (await api(`/api/queue/pairs/next?after=${item.pos}`)).item;
      if (next) { history.replaceState(null, '', `#/pairs/${next.pos}`); setItem(next); }
      else { t0.current = null; setItem(null); setError('The pair queue is done.'); }
      // the counts in the header follow once the reviewer pauses: the next pair comes first
      clearTimeout(window.__review.refresh);
      window.__review.refresh = setTimeout(refresh, 1500);
    } catch (e) {
      t0.current = null;
      setError(e.message);
    } finally {
      busy.current = false;
    }
  };
  const skip = async () => {
    if (!item?.pos) return;
    const next = (await prefetched(item.pos)) ?? (await api(`/api/queue/pairs/next?after=${item.pos}`)).item;
    if (next) { history.replaceState(null, '', `#/pairs/${next.pos}`); setItem(next); }
  };
  const reveal = () => item && api('/api/reveal', { records: item.records.map((r) => r.record), view: 'pair' }).then(() => load()).catch((e) => setError(e.message));
  useEffect(() => {
    const key = (e) => {
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      const k = e.key.toLowerCase();
      if (k === 's') decide('same_person');
      else if (k === 'd') decide('different_persons');
      else if (k === 'u') decide('unsure');
      else if (k === 'n' || e.key === 'ArrowRight') skip();
      else if (k === 'v') reveal();
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', key);
    return () => window.removeEventListener('keydown', key);
  });
  if (!item) return html`${error ? html`<div class="error">${error}</div>` : html`<p class="loading">Loading…</p>`}`;
  return html`<div id="pair-view" data-pos=${item.pos ?? ''} data-records=${item.records.map((r) => r.record).join(' ')}>
    ${error && html`<div class="error">${error}</div>`}${notice && html`<div class="notice" id="notice">${notice}</div>`}
    <section class="card"><h2>${item.pos ? `Pair ${item.pos}` : 'Pair'} <${Priority} p=${item.priority} />
      <span class=${`pill ${item.same_person ? 'same' : 'diff'}`}>batch: ${item.same_person ? 'one person' : 'two persons'}</span>
      ${item.done ? html` <span class="pill">decided</span>` : ''}</h2>
      <div class="actions">
        <button class="same" onClick=${() => decide('same_person')}><kbd>S</kbd> same person</button>
        <button class="diff" onClick=${() => decide('different_persons')}><kbd>D</kbd> different persons</button>
        <button class="unsure" onClick=${() => decide('unsure')}><kbd>U</kbd> unsure</button>
        ${item.pos ? html`<button onClick=${skip}><kbd>N</kbd> skip</button>` : ''}
        <button onClick=${reveal} id="reveal"><kbd>V</kbd> reveal values (audited)</button>
      </div>
      <div class="actions"><input class="note" id="note" value=${note} onInput=${(e) => setNote(e.target.value)} placeholder="note (why)" />
        <input id="reference" value=${reference} onInput=${(e) => setReference(e.target.value)} placeholder="reference (usul/sanggah no.)" /></div>
    </section>
    <section class="card"><h2>Records</h2><${FieldTable} records=${item.records} fields=${item.fields} /></section>
    <section class="card"><h2>Match weight</h2><${Waterfall} w=${item.waterfall} /></section>
    <section class="card"><h2>Household and family</h2><${Context} context=${item.context} /></section></div>`;
}

// ------------------------------------------------------------------ cluster view

const COLOURS = ['#0b5cad', '#b3261e', '#1b7a3a', '#9a6700', '#6f42c1', '#0f7b8a', '#c2410c', '#4b5563'];

function Graph({ records, edges, conflicts, chosen, toggle }) {
  const W = 1000, H = 480, R = Math.min(W, H) / 2 - 40;
  const pos = new Map(records.map((r, i) => {
    const a = (2 * Math.PI * i) / records.length - Math.PI / 2;
    return [r.record, [W / 2 + R * Math.cos(a), H / 2 + R * Math.sin(a)]];
  }));
  const clusters = [...new Set(records.map((r) => r.cluster_id))];
  const colour = (r) => COLOURS[clusters.indexOf(r.cluster_id) % COLOURS.length];
  const conflictKey = new Set(conflicts.map((c) => `${c.l}|${c.r}`));
  return html`<svg class="graph" viewBox=${`0 0 ${W} ${H}`} id="cluster-graph">
    ${edges.map((e) => {
      const [x1, y1] = pos.get(e.l) ?? [0, 0];
      const [x2, y2] = pos.get(e.r) ?? [0, 0];
      const bad = e.hard_negative || conflictKey.has(`${e.l}|${e.r}`);
      return html`<g><line x1=${x1} y1=${y1} x2=${x2} y2=${y2} stroke=${bad ? '#b3261e' : e.linked ? '#1b7a3a' : '#9aa5b1'} stroke-width=${Math.max(1, Math.min(6, Math.abs(e.match_weight) / 4))} stroke-dasharray=${e.linked ? '' : '5 4'} />
        <text class="w" x=${(x1 + x2) / 2} y=${(y1 + y2) / 2}>${fmt(e.match_weight, 1)}</text></g>`;
    })}
    ${records.map((r) => {
      const [x, y] = pos.get(r.record);
      const left = x < W / 2 - 1;
      return html`<g><circle cx=${x} cy=${y} r="14" fill=${colour(r)} class=${chosen.has(r.record) ? 'chosen' : ''} data-record=${r.record} onClick=${() => toggle(r.record)} />
        <text x=${left ? x - 18 : x + 18} y=${y + 4} text-anchor=${left ? 'end' : 'start'}>${r.record}</text></g>`;
    })}</svg>`;
}

function ClusterView({ pos, refresh }) {
  const [item, setItem] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [chosen, setChosen] = useState(new Set());
  const [note, setNote] = useState('');
  const [reference, setReference] = useReference();
  const load = () => api(`/api/queue/clusters/${pos}`).then(setItem).catch((e) => setError(e.message));
  useEffect(() => { load(); }, []);
  const toggle = (r) => { const n = new Set(chosen); n.has(r) ? n.delete(r) : n.add(r); setChosen(n); };
  const split = () => api('/api/split', { pos, records: [...chosen], note, reference }).then((r) => {
    setNotice(`Split written: ${r.lines.length} different-persons decisions (lines ${r.lines[0]}–${r.lines[r.lines.length - 1]}).`);
    setChosen(new Set());
    refresh();
    load();
  }).catch((e) => setError(e.message));
  const next = () => api(`/api/queue/clusters/next?after=${pos}`).then((r) => (r.pos === null ? setError('The cluster queue is done.') : go(`#/clusters/${r.pos}`)));
  const reveal = () => api('/api/reveal', { records: item.records.map((r) => r.record), view: 'cluster' }).then(() => load()).catch((e) => setError(e.message));
  if (!item) return html`${error ? html`<div class="error">${error}</div>` : html`<p class="loading">Loading…</p>`}`;
  return html`<div id="cluster-view" data-pos=${pos}>
    ${error && html`<div class="error">${error}</div>`}${notice && html`<div class="notice" id="notice">${notice}</div>`}
    <section class="card"><h2>Cluster group ${pos} <${Priority} p=${item.priority} /> <span class="pill">${item.outcome} by the chaining protection</span> ${item.done ? html`<span class="pill">decided</span>` : ''}</h2>
      <p class="muted">Conflicts: ${item.reasons.join(', ')}. Colours are the batch's persons; green lines link (solid), grey ones are scored pairs under the threshold (dashed), red ones are conflicts or hard negatives; numbers are match weights in bits. Click records to choose one part, then split.</p>
      <${Graph} records=${item.records} edges=${item.edges} conflicts=${item.conflicts} chosen=${chosen} toggle=${toggle} />
      <div class="actions">
        <button class="diff" id="split" disabled=${chosen.size === 0} onClick=${split}>Split off the ${chosen.size} chosen record${chosen.size === 1 ? '' : 's'}</button>
        <button onClick=${reveal}>reveal values (audited)</button>
        <button onClick=${next}>next cluster</button>
        <input class="note" value=${note} onInput=${(e) => setNote(e.target.value)} placeholder="note (why)" />
        <input value=${reference} onInput=${(e) => setReference(e.target.value)} placeholder="reference" />
      </div></section>
    <section class="card"><h2>Records</h2>
      <table><thead><tr><th></th><th>record</th><th>person</th></tr></thead><tbody>${item.records.map((r) => html`<tr><td><input type="checkbox" checked=${chosen.has(r.record)} onChange=${() => toggle(r.record)} data-record=${r.record} /></td><td>${r.record}</td><td><a href=${`#/person/${r.dtsen_id}`}>${r.dtsen_id}</a></td></tr>`)}</tbody></table>
      <h3>Fields</h3><${FieldTable} records=${item.records} fields=${item.fields} />
      <h3>Links and conflicts</h3>
      <table><thead><tr><th>pair</th><th class="num">weight</th><th class="num">p</th><th></th></tr></thead><tbody>${item.edges.map((e) => html`<tr><td><a href=${`#/pair?a=${encodeURIComponent(e.l)}&b=${encodeURIComponent(e.r)}&from=clusters`}>${e.l} ~ ${e.r}</a></td><td class="num">${fmt(e.match_weight, 2)}</td><td class="num">${fmt(e.match_probability, 4)}</td><td>${e.linked ? 'linked' : ''}${e.hard_negative ? ' hard negative' : ''}</td></tr>`)}
      ${item.conflicts.map((c) => html`<tr><td>${c.l} ~ ${c.r}</td><td></td><td></td><td>conflict: ${c.reason} (${c.outcome})</td></tr>`)}</tbody></table></section></div>`;
}

// ------------------------------------------------------------------ person view

function PersonView({ pos, id, state, refresh }) {
  const [item, setItem] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [form, setForm] = useState({ field: 'birth_date', value: '', reference: '', note: '' });
  const load = () => (pos !== undefined ? api(`/api/queue/persons/${pos}`) : api(`/api/person/${encodeURIComponent(id)}`)).then(setItem).catch((e) => setError(e.message));
  useEffect(() => { load(); }, []);
  const reveal = () => api('/api/reveal', { dtsen_id: item.dtsen_id, view: 'person' }).then(() => load()).catch((e) => setError(e.message));
  const submit = (e) => {
    e.preventDefault();
    setError(null);
    api('/api/field', { dtsen_id: item.dtsen_id, ...form, queue: pos !== undefined ? 'persons' : 'search' }).then((r) => {
      setNotice(`Field decision written to the decisions store (line ${r.lines[0]}).`);
      setForm({ ...form, value: '', note: '' });
      refresh();
      load();
    }).catch((x) => setError(x.message));
  };
  const next = () => api(`/api/queue/persons/next?after=${pos}`).then((r) => (r.pos === null ? setError('The person queue is done.') : go(`#/persons/${r.pos}`)));
  if (!item) return html`${error ? html`<div class="error">${error}</div>` : html`<p class="loading">Loading…</p>`}`;
  const g = item.golden;
  const keys = ['dtsen_id', 'nik', 'nik_sources', 'name', 'birth_date', 'birth_date_basis', 'sex', 'village_code', 'province_code', 'rt', 'rw', 'address', 'address_source', 'no_kk', 'family_id', 'relation', 'decile', 'decile_source', 'pkh', 'bpnt', 'pbi_jkn', 'programmes', 'n_records', 'sources', 'decision_refs'];
  return html`<div id="person-view" data-dtsen-id=${item.dtsen_id}>
    ${error && html`<div class="error">${error}</div>`}${notice && html`<div class="notice" id="notice">${notice}</div>`}
    <section class="card"><h2>Person ${item.dtsen_id} ${item.done ? html`<span class="pill">decided</span>` : ''}</h2>
      <div class="actions"><button onClick=${reveal} id="reveal">reveal values (audited)</button>${pos !== undefined ? html`<button onClick=${next}>next person</button>` : ''}</div>
      <div class="grid2"><div><h3>Golden record</h3><table id="golden"><tbody>${keys.filter((k) => k in g).map((k) => html`<tr data-key=${k}><th>${k}</th><td><${Val} v=${g[k]} /></td></tr>`)}</tbody></table></div>
      <div><h3>Record a field decision</h3>
        <form onSubmit=${submit} id="field-form">
          <p><label>field <select id="field" value=${form.field} onChange=${(e) => setForm({ ...form, field: e.target.value })}>${state.fields.map((f) => html`<option value=${f}>${f}</option>`)}</select></label></p>
          <p><label>corrected value <input id="value" value=${form.value} onInput=${(e) => setForm({ ...form, value: e.target.value })} /></label></p>
          <p><label>reference <input id="field-reference" value=${form.reference} onInput=${(e) => setForm({ ...form, reference: e.target.value })} placeholder="SANGGAH-2026-0043" /></label></p>
          <p><label>note <input id="field-note" value=${form.note} onInput=${(e) => setForm({ ...form, note: e.target.value })} /></label></p>
          <button class="primary" type="submit" id="field-submit">Write the field decision</button></form>
        ${item.family ? html`<h3>Family ${item.family.family_id}</h3><p>${item.family.n_members} members; head ${item.family.head_dtsen_id} (${item.family.head_basis}); decile ${item.family.decile ?? '–'}</p>` : ''}</div></div></section>
    <section class="card"><h2>Lineage: the records of this person</h2>
      <${FieldTable} records=${item.records} fields=${item.fields} />
      <p class="muted">${item.records.map((r) => `${r.record} (p ${fmt(r.match_probability, 4)})`).join('; ')}</p></section>
    <section class="card"><h2>Conflicts</h2>${item.conflicts.length ? html`<table id="conflicts"><thead><tr><th>field</th><th>values (records)</th><th>survived</th></tr></thead><tbody>${item.conflicts.map((c) => html`<tr><td>${c.conflict_type}</td><td>${c.values.map((v) => html`<div><${Val} v=${v.value} /> — ${v.records.join(', ')}</div>`)}</td><td><${Val} v=${c.surviving_value} /></td></tr>`)}</tbody></table>` : html`<p class="muted">None.</p>`}</section>
    <section class="card"><h2>Decisions that touched it</h2>
      <h3>Applied by this batch</h3>${item.decisions_in_batch.length ? html`<table><thead><tr><th>#</th><th>kind</th><th>reference</th><th>status</th><th>detail</th></tr></thead><tbody>${item.decisions_in_batch.map((d) => html`<tr><td>${d.decision_no}</td><td>${d.kind}${d.field ? ` ${d.field}` : ''}</td><td>${d.reference}</td><td>${d.status}</td><td>${d.detail ?? ''}</td></tr>`)}</tbody></table>` : html`<p class="muted">None.</p>`}
      <h3>In the store (for the next batch)</h3>${item.decisions_in_store.length ? html`<table id="store-decisions"><thead><tr><th>line</th><th>kind</th><th>records / field</th><th>queue</th></tr></thead><tbody>${item.decisions_in_store.map((d) => html`<tr><td>${d.line}</td><td>${d.kind}</td><td>${d.field ?? `${d.record_l} ~ ${d.record_r}`}</td><td>${d.queue ?? ''}${d.this_session ? ' (this session)' : ''}</td></tr>`)}</tbody></table>` : html`<p class="muted">None.</p>`}
    </section></div>`;
}

// ------------------------------------------------------------------ decisions and search

function DecisionView({ pos }) {
  const [item, setItem] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { api(`/api/queue/decisions/${pos}`).then(setItem).catch((e) => setError(e.message)); }, []);
  if (!item) return html`${error ? html`<div class="error">${error}</div>` : html`<p class="loading">Loading…</p>`}`;
  const both = item.records.length === 2 && item.records_in_batch.length === 2;
  return html`<section class="card" id="decision-view"><h2>Decision ${item.decision_no} (${item.kind}) ${item.done ? html`<span class="pill">decided again</span>` : ''}</h2>
    <p>Status in this batch: <b>${item.status}</b> — ${item.detail}</p>
    <p>Reference ${item.reference}${item.target ? `; target ${item.target}, field ${item.field}` : ''}${item.records.length ? `; records ${item.records.join(', ')}` : ''}</p>
    ${both ? html`<p><a href=${`#/pair?a=${encodeURIComponent(item.records[0])}&b=${encodeURIComponent(item.records[1])}&from=decisions`}>Look at the pair and decide it again</a></p>` : html`<p class="muted">${item.records.length ? `Records still in the batch: ${item.records_in_batch.join(', ') || 'none'}.` : ''} A later decision replaces this one; use the search to find the person now holding the records.</p>`}
    <p><a href=${`#/q/decisions`}>back to the queue</a></p></section>`;
}

function SearchView({ q }) {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { api('/api/search', { q }).then(setRows).catch((e) => setError(e.message)); }, [q]);
  if (error) return html`<div class="error">${error}</div>`;
  if (!rows) return html`<p class="loading">Searching…</p>`;
  return html`<section class="card"><h2>Search</h2>${rows.length ? html`<table id="search-results"><thead><tr><th>person</th><th>found by</th><th class="num">records</th><th>sources</th><th class="num">decile</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr><td><a href=${`#/person/${r.dtsen_id}`}>${r.dtsen_id}</a></td><td>${r.found_by}</td><td class="num">${r.n_records}</td><td>${(r.sources ?? []).join(', ')}</td><td class="num">${r.decile ?? ''}</td></tr>`)}</tbody></table>` : html`<p class="muted">Nothing found.</p>`}</section>`;
}

render(html`<${App} />`, document.getElementById('app'));
