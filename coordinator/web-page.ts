// The web view's one page: plain HTML, CSS and a small script, no framework.
// It renders the view /api/events sends (coordinator/web.ts) and renders it
// again at every event; nothing on it changes anything.
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tern</title>
<style>
  :root { --bg: #f7f7f5; --fg: #1d1d1b; --dim: #6b6b66; --line: #dcdcd6; --ok: #2f7d32; --bad: #b3261e; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
  header { display: flex; align-items: baseline; gap: 1em; padding: 12px 20px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; }
  header .state { color: var(--dim); }
  main { padding: 12px 20px; }
  h2 { font-size: 15px; margin: 18px 0 8px; }
  .hosts { display: flex; flex-wrap: wrap; gap: 12px; }
  .host { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 180px; }
  .host .name { font-weight: 600; }
  .host.down .name { color: var(--bad); }
  .tag { font-size: 12px; color: var(--dim); margin-left: 6px; }
  .host ul { list-style: none; margin: 6px 0 0; padding: 0; font-family: ui-monospace, monospace; font-size: 12px; }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
  th { font-weight: 600; color: var(--dim); font-size: 12px; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .phase { font-weight: 600; }
  tr[data-phase="done"] .phase { color: var(--ok); }
  tr[data-phase="aborted"] .phase, tr[data-phase="failed"] .phase { color: var(--bad); }
  .timeline { display: flex; height: 14px; width: 360px; border-radius: 3px; overflow: hidden; background: var(--line); }
  .timeline span { height: 100%; min-width: 2px; }
  .err { color: var(--bad); font-size: 12px; }
  .legend { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0; font-size: 12px; color: var(--dim); }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
  .empty { color: var(--dim); }
</style>
</head>
<body>
<header><h1>tern</h1><span class="state" id="state">connecting…</span></header>
<main>
  <h2>Hosts</h2>
  <div class="hosts" id="hosts"></div>
  <h2>Migrations</h2>
  <div class="legend" id="legend"></div>
  <table>
    <thead><tr><th>container</th><th>from → to</th><th>mode</th><th>phase</th><th>timeline</th><th>downtime</th><th>pages</th><th>images</th><th>started</th></tr></thead>
    <tbody id="migrations"></tbody>
  </table>
</main>
<script>
const COLORS = {
  preflight: '#9e9e9e', precopying: '#7e57c2', dumping: '#1e88e5', transferring: '#00897b',
  restoring: '#f9a825', committing: '#ef6c00', committed: '#8d6e63', pulling: '#26a69a',
  aborting: '#e57373',
};
const TERMINAL = ['done', 'aborted', 'failed'];
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else if (k === 'style') e.style.cssText = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const mib = (b) => (b ? (b / 1048576).toFixed(1) + ' MiB' : '–');
const ms = (v) => (v === undefined || v === null ? '–' : v + ' ms');
const time = (t) => new Date(t).toLocaleTimeString();

$('legend').append(...Object.entries(COLORS).map(([p, c]) => el('span', {}, el('i', { style: 'background:' + c }), p)));

function timeline(m, now) {
  const bar = el('div', { class: 'timeline' });
  const end = m.finishedMs || now;
  const total = Math.max(1, end - m.history[0].atMs);
  m.history.forEach((h, i) => {
    if (TERMINAL.includes(h.phase)) return;
    const until = m.history[i + 1] ? m.history[i + 1].atMs : end;
    const span = el('span', {
      style: 'background:' + (COLORS[h.phase] || '#bbb') + ';width:' + ((100 * (until - h.atMs)) / total).toFixed(2) + '%',
      title: h.phase + ' ' + (until - h.atMs) + ' ms',
    });
    bar.append(span);
  });
  return bar;
}

function render(v) {
  $('state').textContent = 'live · ' + time(v.atMs);
  $('hosts').replaceChildren(...v.hosts.map((h) =>
    el('div', { class: 'host' + (h.up ? '' : ' down'), 'data-host': h.name },
      el('span', { class: 'name' }, h.name),
      el('span', { class: 'tag' }, (h.up ? 'up' : 'down') + (h.cordoned ? ', cordoned' : '')),
      el('ul', {}, ...(h.containers.length
        ? h.containers.map((c) => el('li', { 'data-container': c.name }, c.name + ' ' + c.ip + (c.state === 'running' ? '' : ' (' + c.state + ')')))
        : [el('li', { class: 'empty' }, 'no containers')])))));
  const rows = v.migrations.map((m) => {
    const row = el('tr', { 'data-migration': m.id, 'data-phase': m.phase, 'data-container': m.container },
      el('td', {}, m.container),
      el('td', {}, m.from + ' → ' + m.to),
      el('td', {}, m.mode),
      el('td', { class: 'phase' }, m.phase),
      el('td', {}, timeline(m, v.atMs)),
      el('td', { class: 'num' }, ms(m.phase === 'done' || m.phase === 'pulling' ? m.downtimeMs : undefined)),
      el('td', { class: 'num' }, mib(m.pagesBytes)),
      el('td', { class: 'num' }, mib(m.imageBytes)),
      el('td', {}, time(m.startedMs)));
    if (m.error) row.children[3].append(el('div', { class: 'err' }, m.error));
    return row;
  });
  $('migrations').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '9', class: 'empty' }, 'no migrations yet'))]));
}

function connect() {
  const es = new EventSource('/api/events');
  es.addEventListener('fleet', (e) => render(JSON.parse(e.data)));
  es.onerror = () => { $('state').textContent = 'reconnecting…'; };
}
connect();
</script>
</body>
</html>
`;
