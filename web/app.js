// kpipe status page: polls /api/status and /api/progress every second and redraws the facts,
// the uPlot charts and the tables in place. No framework, no build step, nothing from the
// internet: uPlot is served by kpipe from /static/uPlot.min.js.
(function () {
  'use strict';

  const POLL_MS = 1000;
  const HISTORY = 120;        // batches fetched for the charts
  const TABLE_ROWS = 20;      // batches shown in the table
  const LAG_SAMPLES = 300;    // seconds of lag history kept in the page
  const MIN_SPAN_S = 60;      // the time axis shows at least this much, so a new job's first points sit at the right
  const PALETTE = ['#1f6feb', '#1a7f37', '#bf3989', '#bc4c00', '#8250df', '#0a7d8c', '#cf222e', '#6e7781'];

  const $ = (id) => document.getElementById(id);
  const page = { polls: 0, errors: 0, charts: {}, lastStatus: null, lagHistory: [] };
  window.kpipePage = page;  // read by the browser test

  // ---- formatting ----------------------------------------------------------------------
  const nf = new Intl.NumberFormat('en-US');
  const fmtInt = (n) => (n === null || n === undefined ? '–' : nf.format(Math.round(n)));
  const fmtRate = (x) => {
    if (x === null || x === undefined || !isFinite(x)) return '–';
    return x >= 100 ? nf.format(Math.round(x)) : x.toFixed(1);
  };
  const fmtMs = (ms) => (ms === null || ms === undefined ? '–' : ms >= 10000 ? (ms / 1000).toFixed(1) + ' s' : nf.format(ms) + ' ms');
  function fmtBytes(b) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return (i === 0 ? String(b) : b.toFixed(1)) + ' ' + units[i];
  }
  function fmtDuration(sec) {
    sec = Math.floor(sec);
    const d = Math.floor(sec / 86400), h = Math.floor(sec / 3600) % 24, m = Math.floor(sec / 60) % 60, s = sec % 60;
    const pad = (x) => String(x).padStart(2, '0');
    if (d > 0) return d + 'd ' + h + 'h ' + pad(m) + 'm';
    if (h > 0) return h + 'h ' + pad(m) + 'm ' + pad(s) + 's';
    if (m > 0) return m + 'm ' + pad(s) + 's';
    return s + 's';
  }
  // The age of the oldest uncommitted record: null while the job has not seen it yet.
  const fmtAge = (sec) => (sec === null || sec === undefined ? '?' : sec < 10 ? sec.toFixed(1) + ' s' : fmtDuration(sec));
  const fmtTime = (ms) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
  const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
  const fmtTick = (v) => {
    if (v === null || v === undefined) return '';
    if (Math.abs(v) >= 10000) return compact.format(v);
    if (Math.abs(v) >= 1000 || Number.isInteger(v)) return nf.format(Math.round(v));
    return String(+v.toFixed(2));
  };
  // Sinks in the order a reader expects; unknown ones after, alphabetically.
  const SINK_ORDER = ['parquet', 'csv', 'console', 'dead-letter'];
  const bySinkOrder = (a, b) => {
    const ia = SINK_ORDER.indexOf(a), ib = SINK_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  };
  const totalMs = (p) => (p.durationMs && typeof p.durationMs.total === 'number' ? p.durationMs.total : null);

  // ---- DOM helpers (textContent only: values come from the environment and the broker) ----
  function el(tag, opts, children) {
    const e = document.createElement(tag);
    if (opts) {
      if (opts.cls) e.className = opts.cls;
      if (opts.text !== undefined) e.textContent = opts.text;
      if (opts.title) e.title = opts.title;
      if (opts.colspan) e.colSpan = opts.colspan;
    }
    for (const c of children || []) e.appendChild(c);
    return e;
  }
  const td = (text, cls, title) => el('td', { text: String(text), cls: cls, title: title });
  const th = (text, cls) => el('th', { text: text, cls: cls });
  function setText(id, text) {
    const e = $(id);
    if (e.textContent !== text) e.textContent = text;
  }
  function fillBody(table, rows, emptyText, cols) {
    const body = table.tBodies[0];
    body.replaceChildren(...(rows.length ? rows : [el('tr', { cls: 'empty' }, [el('td', { text: emptyText, colspan: cols })])]));
  }

  // ---- charts ---------------------------------------------------------------------------
  function chartSize(container) {
    return { width: Math.max(200, container.clientWidth || 600), height: 200 };
  }

  // The time axis spans the data, at least MIN_SPAN_S, the newest point at the right; half a
  // second of room on the right keeps the newest bar whole. From the data, not from uPlot's
  // min/max: for a single point uPlot widens a time scale by 86400 / ms, 1000 days with
  // timestamps in seconds, and one batch drew the years 2027-2029 under it.
  function xRange(u, min, max) {
    const xs = u.data[0];
    if (!xs || !xs.length) return [min, max];
    const lo = xs[0], hi = xs[xs.length - 1];
    return [Math.min(lo, hi - MIN_SPAN_S), hi + 0.5];
  }
  const X_SCALE = { time: true, range: xRange };

  function makeChart(id, series, extra) {
    const container = $(id);
    const opts = Object.assign({
      ...chartSize(container),
      // Linear charts start at 0, so bars and durations read as sizes.
      scales: { x: X_SCALE, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      series: [{}].concat(series),
      axes: [{ stroke: '#656d76', grid: { stroke: '#eaeef2' } },
             { stroke: '#656d76', grid: { stroke: '#eaeef2' }, size: 64, values: (u, vals) => vals.map(fmtTick) }],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    }, extra || {});
    const data = [[]].concat(series.map(() => []));
    const chart = new uPlot(opts, data, container);
    new ResizeObserver(() => {
      const s = chartSize(container);
      if (s.width !== chart.width) chart.setSize(s);
    }).observe(container);
    return chart;
  }

  function setChartData(id, data) {
    page.charts[id].setData(data);
    $(id).dataset.points = String(data[0].length);
    if (data[0].length) delete $(id).dataset.empty;
    else $(id).dataset.empty = id === 'chart-lag' ? 'no partition planned yet' : 'no batch yet';
    $(id).dataset.lastX = data[0].length ? String(data[0][data[0].length - 1]) : '';
  }

  function line(label, color, fill) {
    // A line needs two points: the first batch is drawn as a dot.
    return { label: label, stroke: color, width: 2, fill: fill ? color + '22' : undefined,
             points: { show: (u) => u.data[0].length <= 2, size: 8, fill: color },
             value: (u, v) => (v === null || v === undefined ? '–' : fmtRate(v)) };
  }

  function createCharts() {
    page.charts['chart-rates'] = makeChart('chart-rates', [
      line('Input rows/s', PALETTE[0]),
      line('Processed rows/s', PALETTE[1]),
    ], { scales: { x: X_SCALE, y: { distr: 3, log: 10 } } });
    page.charts['chart-duration'] = makeChart('chart-duration', [line('Total ms', PALETTE[4], true)]);
    page.charts['chart-rows'] = makeChart('chart-rows', [
      Object.assign(line('Input rows', PALETTE[3], true), { paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } }),
    ]);
    page.lagPartitions = [];
    page.charts['chart-lag'] = makeChart('chart-lag', []);
  }

  // The lag chart has a series per partition: rebuilt when the set of partitions changes.
  function ensureLagChart(partitions) {
    const key = partitions.join(',');
    if (key === page.lagPartitions.join(',')) return;
    page.charts['chart-lag'].destroy();
    page.lagPartitions = partitions;
    page.charts['chart-lag'] = makeChart('chart-lag', partitions.map((p, i) => line('p' + p, PALETTE[i % PALETTE.length])));
  }

  function updateCharts(progress, status) {
    const xs = progress.map((p) => p.timestampMs / 1000);
    const positive = (v) => (v > 0 ? v : null);  // log scale: 0 has no place
    setChartData('chart-rates', [xs, progress.map((p) => positive(p.inputRowsPerSecond)),
                                 progress.map((p) => positive(p.processedRowsPerSecond))]);
    setChartData('chart-duration', [xs, progress.map(totalMs)]);
    setChartData('chart-rows', [xs, progress.map((p) => p.numInputRows)]);

    if (status.lagHistory && page.lagHistory.length === 0) {
      page.lagHistory = status.lagHistory.map((s) => ({ t: s.atMs / 1000, lag: new Map(s.lag.map((l) => [l.partition, l.lag])) }));
    }
    if (status.lag.length) {
      page.lagHistory.push({ t: status.nowMs / 1000, lag: new Map(status.lag.map((l) => [l.partition, l.lag])) });
      if (page.lagHistory.length > LAG_SAMPLES) page.lagHistory.shift();
    }
    const partitions = [...new Set(page.lagHistory.flatMap((s) => [...s.lag.keys()]))].sort((a, b) => a - b);
    ensureLagChart(partitions);
    const lagData = [page.lagHistory.map((s) => s.t)].concat(
      partitions.map((p) => page.lagHistory.map((s) => (s.lag.has(p) ? s.lag.get(p) : null))));
    setChartData('chart-lag', lagData);
  }

  // ---- facts, cards, tables -------------------------------------------------------------
  function updateFacts(st, progress) {
    document.title = 'kpipe ' + st.component + ' · ' + st.state;
    setText('component', st.component);
    const state = $('state');
    state.dataset.state = st.state;
    setText('state', st.state);
    const detail = $('detail');
    detail.hidden = !st.stateDetail;
    if (st.stateDetail) detail.textContent = st.state + ': ' + st.stateDetail;

    setText('query-id', st.queryId || '–');
    setText('kafka', st.kafka.bootstrapServers || '–');
    setText('topic', st.kafka.topic || '–');
    setText('uptime', fmtDuration(st.uptimeSeconds));
    setText('current-batch', st.currentBatch < 0 ? '–' : fmtInt(st.currentBatch));
    setText('last-committed', st.lastCommittedBatch < 0 ? '–' : fmtInt(st.lastCommittedBatch));
    setText('version', st.version);

    const last = progress.length ? progress[progress.length - 1] : null;
    setText('total-input', fmtInt(st.totals.inputRows));
    setText('total-batches', fmtInt(st.totals.batches) + (st.totals.batches === 1 ? ' batch' : ' batches'));
    setText('input-rate', last ? fmtRate(last.inputRowsPerSecond) : '–');
    setText('process-rate', last ? fmtRate(last.processedRowsPerSecond) : '–');
    setText('last-duration', last ? fmtMs(totalMs(last)) : '–');
    setText('avg-duration', st.totals.batches ? 'last batch; mean ' + fmtMs(Math.round(st.totals.batchDurationMs / st.totals.batches)) : 'last batch');
    setText('total-lag', st.lag.length ? fmtInt(st.totalLag) : '–');
    setText('lag-partitions', st.lag.length ? 'records behind, ' + st.lag.length + ' partition' + (st.lag.length === 1 ? '' : 's') +
      (st.totalLag > 0 ? '; oldest ' + fmtAge(st.oldestUncommittedAgeSeconds) : '') : 'records behind');
    setText('dead-lettered', fmtInt(st.deadLettered));
    $('dead-lettered').parentElement.classList.toggle('alert', st.deadLettered > 0);
    const kinds = Object.entries(st.errorsByKind).filter(([, n]) => n > 0);
    const errors = kinds.reduce((a, [, n]) => a + n, 0);
    setText('errors', fmtInt(errors));
    setText('errors-by-kind', kinds.length ? kinds.map(([k, n]) => k + ' ' + n).join(', ') : 'none');
    $('errors').parentElement.classList.toggle('alert', errors > 0);
  }

  // GROUP_ID: the card shows only while /api/status has a group (a single instance has none).
  // Partition ids are the owned ones, never assumed to be 0..N-1.
  function updateGroup(st) {
    const g = st.group;
    $('group').hidden = !g;
    if (!g) return;
    setText('group-id', g.groupId);
    setText('group-member', g.memberId || 'joining…');
    const owned = g.ownedPartitions;
    setText('group-owned', owned.length ? owned.join(', ') + ' (' + owned.length + ')' : 'none');
    setText('group-rebalances', fmtInt(g.rebalances));
    setText('group-fenced', fmtInt(g.fencedBatches));
    const at = g.lastRebalanceAt ? Date.parse(g.lastRebalanceAt) : NaN;
    setText('group-last-rebalance', isNaN(at) ? 'none yet' : fmtTime(at) + ', ' + fmtDuration(Math.max(0, st.nowMs - at) / 1000) + ' ago');
  }

  function updateBatches(progress) {
    const table = $('batches');
    const recent = progress.slice(-TABLE_ROWS).reverse();
    // Dead-lettered records have their own column.
    const sinks = [...new Set(recent.flatMap((p) => Object.keys(p.sinks)))].filter((s) => s !== 'dead-letter').sort(bySinkOrder);
    const head = ['Batch', 'Started', 'Input rows', 'Input rows/s', 'Processed rows/s', 'Duration']
      .concat(sinks.map((s) => s + ' rows / files'), ['Dead-lettered', 'Offsets']);
    const headRow = el('tr', null, head.map((h, i) => th(h, i === 0 || i === 1 || i === head.length - 1 ? '' : 'num')));
    table.tHead.replaceChildren(headRow);
    const rows = recent.map((p) => {
      const offsets = p.sources.map((s) => 'p' + s.partition + ' ' + s.startOffset + '–' + s.endOffset).join(', ');
      const cells = [
        td(p.batchId + (p.replay ? ' (replay)' : ''), p.replay ? 'replay' : '', p.replay ? 're-run of a batch whose commit was missing' : ''),
        td(fmtTime(p.timestampMs)),
        td(fmtInt(p.numInputRows), 'num'),
        td(fmtRate(p.inputRowsPerSecond), 'num'),
        td(fmtRate(p.processedRowsPerSecond), 'num'),
        td(fmtMs(totalMs(p)), 'num', Object.entries(p.durationMs).map(([k, v]) => k + ' ' + v + ' ms').join('\n')),
      ];
      for (const s of sinks) {
        const v = p.sinks[s];
        cells.push(td(v ? fmtInt(v.rows) + ' / ' + fmtInt(v.files) : '–', 'num'));
      }
      cells.push(td(fmtInt(p.deadLettered), p.deadLettered > 0 ? 'num bad' : 'num'));
      cells.push(td(offsets, 'mono offsets'));
      return el('tr', null, cells);
    });
    fillBody(table, rows, 'No batch yet.', head.length);
  }

  function updateSinks(st) {
    const rows = Object.entries(st.sinks).sort((a, b) => bySinkOrder(a[0], b[0])).map(([name, s]) =>
      el('tr', null, [td(name), td(fmtInt(s.rows), 'num'), td(fmtInt(s.files), 'num'), td(fmtBytes(s.bytes), 'num')]));
    fillBody($('sinks'), rows, 'Nothing written yet.', 4);
    const lagRows = st.lag.map((l) =>
      el('tr', null, [td(l.partition), td(fmtInt(l.committedOffset), 'num'), td(fmtInt(l.latestOffset), 'num'), td(fmtInt(l.lag), 'num'),
                      td(l.lag > 0 ? fmtAge(l.oldestUncommittedAgeSeconds) : '–', 'num')]));
    fillBody($('lag'), lagRows, 'No partition planned yet.', 5);
  }

  function updateFiles(st) {
    const table = $('files');
    const sinks = Object.keys(st.filesPerDt).sort(bySinkOrder);
    const byDt = new Map();
    for (const s of sinks) {
      for (const cell of st.filesPerDt[s]) {
        if (!byDt.has(cell.dt)) byDt.set(cell.dt, {});
        byDt.get(cell.dt)[s] = cell;
      }
    }
    const head = ['dt'].concat(sinks.flatMap((s) => [s + ' files', s + ' rows']));
    table.tHead.replaceChildren(el('tr', null, head.map((h, i) => th(h, i ? 'num' : ''))));
    const dts = [...byDt.keys()].sort().reverse();
    const rows = dts.map((dt) => {
      const cells = [td('dt=' + dt, 'mono')];
      for (const s of sinks) {
        const c = byDt.get(dt)[s];
        cells.push(td(c ? fmtInt(c.files) : '–', 'num'), td(c ? fmtInt(c.rows) : '–', 'num'));
      }
      return el('tr', null, cells);
    });
    fillBody(table, rows, 'No file yet.', head.length);
  }

  function updateConfig(st) {
    const key = JSON.stringify(st.config);
    if (page.configKey === key) return;
    page.configKey = key;
    fillBody($('config'), st.config.map((c) => el('tr', null, [td(c.name), td(c.value)])), 'No settings reported.', 2);
  }

  // ---- polling --------------------------------------------------------------------------
  async function getJSON(url) {
    const r = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
    return r.json();
  }

  function render(st, progress) {
    page.lastStatus = st;
    updateFacts(st, progress);
    updateGroup(st);
    updateCharts(progress, st);
    updateBatches(progress);
    updateSinks(st);
    updateFiles(st);
    updateConfig(st);
    setText('updated', 'updated ' + fmtTime(st.nowMs));
  }

  async function poll() {
    let data = null;
    try {
      // The first poll also fetches the lag the server sampled before the page was opened.
      const statusUrl = page.polls === 0 ? '/api/status?lagHistory=1' : '/api/status';
      data = await Promise.all([getJSON(statusUrl), getJSON('/api/progress?last=' + HISTORY)]);
    } catch (e) {
      // The job stopped or restarted: say so on the page and keep trying.
      page.errors++;
      $('conn').hidden = false;
    }
    try {
      if (data) {
        render(data[0], data[1]);
        page.polls++;
        $('conn').hidden = true;
      }
    } finally {
      // A bug in render() still reaches the console (and the browser test); polling goes on.
      setTimeout(poll, POLL_MS);
    }
  }

  createCharts();
  poll();
})();
