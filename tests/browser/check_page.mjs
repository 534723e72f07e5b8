#!/usr/bin/env node
// Browser check of the kpipe status page, against a live `kpipe stream`:
//
//   node tests/browser/check_page.mjs URL SCREENSHOT.png [--seconds N] [--full FULL.png] [--batches B] [--group]
//
// Opens URL in Debian's headless Chromium (playwright-core, never a downloaded browser), waits
// for the first update, then watches it for up to N seconds (default 8) and checks that
//   - the counters change (input records, last committed batch, uptime),
//   - the charts change (new points, new pixels on the canvases),
//   - the console shows no error, no page error, no failed request, and no request leaves the
//     page's own origin (everything must work with no internet),
//   - every chart's time axis spans its points and no more than MIN_SPAN_S (60 s) or their own
//     span, the newest at the right (one batch once drew the years 2027-2029),
// then saves a screenshot of the viewport (and of the full page with --full).
// With --batches B the job is expected to hold still at B committed batches: instead of
// changes, the page must show batch B-1 as the last committed one and B points on each batch
// chart, within N seconds.
// Without --group the "Consumer group" card must stay hidden (a single instance has no group).
// With --group, every /api/status answer is rewritten on its way to the page as a GROUP_ID
// instance's would be (a `group` object; lag rows only for the partitions it owns, 1 and 2), so
// the card and the lag table and chart are checked against a live job without an engine in a
// group: the card shows the group's values, and the lag shows partitions 1 and 2, not 0..N-1.
// Prints what it saw as JSON; exits 0 when every check passed, 1 otherwise, 2 on bad usage.
import { createRequire } from 'node:module';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(resolve(here, '../../package.json'));

function usage(msg) {
  console.error(`check_page: ${msg}\nusage: node tests/browser/check_page.mjs URL SCREENSHOT.png [--seconds N] [--full FULL.png] [--batches B] [--group]`);
  process.exit(2);
}

const args = process.argv.slice(2);
const positional = [];
let seconds = 8;
let fullPath = null;
let batches = null;
let group = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--seconds') seconds = Number(args[++i]);
  else if (args[i] === '--full') fullPath = args[++i];
  else if (args[i] === '--batches') batches = Number(args[++i]);
  else if (args[i] === '--group') group = true;
  else positional.push(args[i]);
}
if (positional.length !== 2 || !(seconds > 0) || (fullPath === undefined)) usage('expected URL and SCREENSHOT path');
if (batches !== null && !(Number.isInteger(batches) && batches > 0)) usage('--batches needs a whole number > 0');
const MIN_SPAN_S = 60;  // as web/app.js
const BATCH_CHARTS = ['chart-rates', 'chart-duration', 'chart-rows'];
const FAKE_GROUP = { groupId: 'kpipe-page-check', memberId: 'rdkafka-page-check-6f1c2b9e', ownedPartitions: [1, 2],
                     rebalances: 3, fencedBatches: 1 };
const REBALANCE_AGO_MS = 65000;  // the card says "…, 1m 05s ago"
const [url, shotPath] = positional;
const origin = new URL(url).origin;

const executablePath = process.env.KPIPE_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) usage(`no Chromium at ${executablePath} (scripts/bootstrap-web installs Debian's)`);
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  usage('playwright-core is not installed: run scripts/bootstrap-web (npm ci)');
}

const problems = [];
const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const consoleLines = [];
  page.on('console', (m) => {
    consoleLines.push(`${m.type()}: ${m.text()}`);
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`); });
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith('data:') || new URL(u).origin === origin) return route.continue();
    problems.push(`request outside ${origin}: ${u}`);
    return route.abort();
  });
  if (group) {
    // Routes registered later run first: this one answers /api/status, from the job's own answer.
    await page.route((u) => u.pathname === '/api/status', async (route) => {
      const response = await route.fetch();
      const st = await response.json();
      const owned = new Set(FAKE_GROUP.ownedPartitions);
      st.group = { ...FAKE_GROUP, lastRebalanceAt: new Date(st.nowMs - REBALANCE_AGO_MS).toISOString() };
      st.lag = st.lag.filter((l) => owned.has(l.partition));
      st.totalLag = st.lag.reduce((a, l) => a + l.lag, 0);
      for (const sample of st.lagHistory || []) sample.lag = sample.lag.filter((l) => owned.has(l.partition));
      await route.fulfill({ response, json: st });
    });
  }

  await page.goto(url, { waitUntil: 'load', timeout: 15000 });
  await page.waitForFunction(() => window.kpipePage && window.kpipePage.polls >= 1, null, { timeout: 15000 });

  const read = () => page.evaluate(() => {
    const text = (id) => document.getElementById(id).textContent;
    const charts = {};
    for (const c of document.querySelectorAll('.chart')) {
      const canvas = c.querySelector('canvas');
      const u = window.kpipePage.charts[c.id];
      const xs = u ? u.data[0] : [];
      charts[c.id] = { points: Number(c.dataset.points || 0), lastX: c.dataset.lastX || '',
                       pixels: canvas ? canvas.toDataURL() : '',
                       // The time axis as drawn (seconds since the epoch) and the points under it.
                       xMin: u ? u.scales.x.min : null, xMax: u ? u.scales.x.max : null,
                       firstX: xs.length ? xs[0] : null, lastPointX: xs.length ? xs[xs.length - 1] : null };
    }
    return {
      state: text('state'), queryId: text('query-id'), kafka: text('kafka'), topic: text('topic'),
      uptime: text('uptime'), totalInput: text('total-input'), lastCommitted: text('last-committed'),
      currentBatch: text('current-batch'), batchRows: document.querySelectorAll('#batches tbody tr:not(.empty)').length,
      configRows: document.querySelectorAll('#config tbody tr:not(.empty)').length,
      fileRows: document.querySelectorAll('#files tbody tr:not(.empty)').length,
      lagRows: document.querySelectorAll('#lag tbody tr:not(.empty)').length, totalLag: text('total-lag'),
      polls: window.kpipePage.polls, fetchErrors: window.kpipePage.errors, charts,
      group: { hidden: document.getElementById('group').hidden, id: text('group-id'), member: text('group-member'),
               owned: text('group-owned'), rebalances: text('group-rebalances'), fenced: text('group-fenced'),
               lastRebalance: text('group-last-rebalance') },
      lagPartitions: [...document.querySelectorAll('#lag tbody tr:not(.empty)')].map((tr) => tr.cells[0].textContent),
      lagSeries: (window.kpipePage.lagPartitions || []).map(String),
    };
  });

  const first = await read();
  let last = first;
  const changed = (a, b) => ({
    totalInput: a.totalInput !== b.totalInput,
    lastCommitted: a.lastCommitted !== b.lastCommitted,
    uptime: a.uptime !== b.uptime,
    charts: Object.fromEntries(Object.keys(a.charts).map((id) => [id,
      a.charts[id].lastX !== b.charts[id].lastX && a.charts[id].pixels !== b.charts[id].pixels])),
  });
  const deadline = Date.now() + seconds * 1000;
  let diff = changed(first, last);
  const allChanged = (d) => d.totalInput && d.lastCommitted && d.uptime && Object.values(d.charts).every(Boolean);
  const showsBatches = (s) => s.lastCommitted === String(batches - 1) && s.charts['chart-lag'].points > 0 &&
    BATCH_CHARTS.every((id) => s.charts[id].points === batches);
  while (Date.now() < deadline) {
    await sleep(500);
    last = await read();
    diff = changed(first, last);
    if (batches === null ? allChanged(diff) && last.polls >= first.polls + 3 : showsBatches(last) && last.polls >= first.polls + 2) break;
  }

  if (batches === null) {
    if (!diff.totalInput) problems.push(`input records did not change in ${seconds} s (${first.totalInput})`);
    if (!diff.lastCommitted) problems.push(`last committed batch did not change in ${seconds} s (${first.lastCommitted})`);
    if (!diff.uptime) problems.push(`uptime did not change in ${seconds} s (${first.uptime})`);
    for (const [id, ok] of Object.entries(diff.charts)) {
      if (!ok) problems.push(`chart ${id} did not change in ${seconds} s (${first.charts[id].points} → ${last.charts[id].points} points)`);
    }
  } else if (!showsBatches(last)) {
    problems.push(`after ${seconds} s the page shows last committed batch ${last.lastCommitted} and ` +
                  BATCH_CHARTS.map((id) => `${last.charts[id].points} points on ${id}`).join(', ') + `, not ${batches} batches`);
  }
  // The time axes: around the points, at most the larger of MIN_SPAN_S and the points' own span
  // (a second of slack for the half second of room on the right).
  for (const [id, c] of Object.entries(last.charts)) {
    if (!c.points) continue;
    const span = c.xMax - c.xMin;
    const allowed = Math.max(MIN_SPAN_S, c.lastPointX - c.firstX) + 1;
    const year = (x) => new Date(x * 1000).getUTCFullYear();
    if (!(c.xMin <= c.firstX && c.xMax >= c.lastPointX) || !(span <= allowed) || c.xMax - c.lastPointX > 1) {
      problems.push(`chart ${id}: time axis ${new Date(c.xMin * 1000).toISOString()} – ${new Date(c.xMax * 1000).toISOString()} ` +
                    `(${span} s, years ${year(c.xMin)}–${year(c.xMax)}) for points from ` +
                    `${new Date(c.firstX * 1000).toISOString()} to ${new Date(c.lastPointX * 1000).toISOString()}`);
    }
  }
  if (last.lagRows === 0 || last.totalLag === '–') problems.push('the consumer lag is missing');
  if (!['running', 'waiting for data'].includes(last.state)) problems.push(`state is '${last.state}'`);
  if (last.queryId === '–' || last.kafka === '–' || last.topic === '–') problems.push('query id, Kafka or topic missing');
  if (last.batchRows === 0) problems.push('the batch table is empty');
  if (last.configRows === 0) problems.push('the configuration table is empty');
  if (last.fileRows === 0) problems.push('the files-per-dt table is empty');
  if (last.fetchErrors > 0) problems.push(`${last.fetchErrors} polls failed`);
  if (!group && !last.group.hidden) problems.push('the consumer group card shows for a job without a group');
  if (group) {
    const g = last.group;
    const want = { hidden: false, id: FAKE_GROUP.groupId, member: FAKE_GROUP.memberId, owned: '1, 2 (2)',
                   rebalances: '3', fenced: '1' };
    for (const [k, v] of Object.entries(want)) {
      if (g[k] !== v) problems.push(`consumer group card: ${k} is '${g[k]}', want '${v}'`);
    }
    if (!g.lastRebalance.endsWith(', 1m 05s ago')) problems.push(`consumer group card: last rebalance '${g.lastRebalance}'`);
    if (last.lagPartitions.join(',') !== '1,2') problems.push(`lag table partitions ${last.lagPartitions}, want 1,2`);
    if (last.lagSeries.join(',') !== '1,2') problems.push(`lag chart series ${last.lagSeries}, want p1,p2`);
  }

  // Let the last redraw settle so the screenshot shows full charts.
  await sleep(300);
  mkdirSync(dirname(resolve(shotPath)), { recursive: true });
  await page.screenshot({ path: shotPath });
  if (fullPath) {
    mkdirSync(dirname(resolve(fullPath)), { recursive: true });
    await page.screenshot({ path: fullPath, fullPage: true });
  }

  const summary = (s) => ({ ...s, charts: Object.fromEntries(Object.entries(s.charts).map(([k, v]) =>
    [k, { points: v.points, lastX: v.lastX, xAxis: v.xMin === null ? null : [v.xMin, v.xMax] }])) });
  console.log(JSON.stringify({ url, ok: problems.length === 0, problems, first: summary(first), last: summary(last),
                               console: consoleLines }, null, 2));
} catch (e) {
  problems.push(`check failed: ${e.stack || e}`);
  console.log(JSON.stringify({ url, ok: false, problems }, null, 2));
} finally {
  await browser.close();
}
process.exit(problems.length === 0 ? 0 : 1);
