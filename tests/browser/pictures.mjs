// The explorer's pictures in Debian's headless Chromium, checked against the JSON API: the
// search's duration scatter (a dot per trace found; choosing one opens its trace), a span's
// log records in the trace view, and the RED charts over time (per service, then an
// endpoint's once its row is chosen). Saves a screenshot of each.
// Usage: node pictures.mjs UI_URL ARTIFACT_DIR TRACE_ID
// Expects the explorer to hold the shop's checkouts (POST /api/checkout at the frontend), one
// of them TRACE_ID, whose payment span logged "payment approved".
// Exits 0 when every check passed (printing one JSON line); otherwise says what failed, exits 1.
import { check, checkNoErrorBox, checkNoProblems, collectProblems, jsonApi, launchChromium, reportFailure, screenshot } from './lib.mjs';
import { mkdirSync } from 'node:fs';

const [uiUrl, artifacts, traceId] = process.argv.slice(2);
if (!uiUrl || !artifacts || !traceId) {
  console.error('usage: node pictures.mjs UI_URL ARTIFACT_DIR TRACE_ID');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const CHECKOUT = 'POST /api/checkout';
const LOGGED = 'payment approved';

const apiGet = jsonApi(uiUrl);

const browser = await launchChromium();
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  // A script error, a style or script the policy refused, or a failed request shows here.
  collectProblems(page, problems);
  const shot = (name) => screenshot(page, artifacts, name);
  const noErrorBox = (where) => checkNoErrorBox(page, where);
  // The drawn length of an SVG element (0 for one that draws nothing).
  const drawnLength = (selector) => page.$$eval(selector, (nodes) => nodes.map((n) => (n.getTotalLength ? n.getTotalLength() : 0)));

  // ---- Search: a dot per trace found, where its start and duration put it.
  const query = new URLSearchParams({ service: 'frontend', operation: CHECKOUT });
  const found = (await apiGet(`/api/traces?${query}`)).traces;
  check(found.some((t) => t.trace_id === traceId), `the search does not find ${traceId}`);
  await page.goto(`${uiUrl}/#/search?${query}`);
  await page.waitForFunction((q) => document.getElementById('search-results')?.dataset.query === q, query.toString());
  await page.waitForSelector('#search-scatter circle.td-chart-dot');
  const dots = await page.$$eval('#search-scatter circle.td-chart-dot', (cs) => cs.map((c) => ({
    id: c.getAttribute('data-id'),
    error: c.classList.contains('td-chart-error'),
    cx: Number(c.getAttribute('cx')),
    cy: Number(c.getAttribute('cy')),
    title: c.querySelector('title')?.textContent || '',
  })));
  const rows = await page.locator('#results tbody tr').count();
  check(dots.length === found.length && rows === found.length, `${dots.length} dots and ${rows} rows for ${found.length} traces found`);
  for (const t of found) {
    const dot = dots.find((d) => d.id === t.trace_id);
    check(dot, `no dot for trace ${t.trace_id}`);
    check(dot.error === (t.error_count > 0), `the dot of ${t.trace_id} is ${dot.error ? '' : 'not '}marked failing; the trace has ${t.error_count} errors`);
    check(dot.title.includes(CHECKOUT), `the dot of ${t.trace_id} is titled ${dot.title}`);
  }
  // Longer traces sit higher (a smaller y), later ones further right.
  const byDuration = [...found].sort((a, b) => a.duration_ms - b.duration_ms);
  const ys = byDuration.map((t) => dots.find((d) => d.id === t.trace_id).cy);
  check(ys.every((y, i) => i === 0 || y <= ys[i - 1]), `the dots' heights do not follow the durations: ${ys.join(', ')}`);
  const byStart = [...found].sort((a, b) => a.start_unix_nanos - b.start_unix_nanos);
  const xs = byStart.map((t) => dots.find((d) => d.id === t.trace_id).cx);
  check(xs.every((x, i) => i === 0 || x >= xs[i - 1]), `the dots' places do not follow the start times: ${xs.join(', ')}`);
  const scatterBox = await page.locator('#search-scatter').boundingBox();
  const tableBox = await page.locator('#results').boundingBox();
  check(scatterBox && tableBox && scatterBox.height > 100 && scatterBox.y < tableBox.y, `the scatter is not drawn above the results: ${JSON.stringify({ scatterBox, tableBox })}`);
  await noErrorBox('search');
  await shot('1-search-scatter');

  // Choosing a dot opens its trace, at the span that matched, as choosing its row does.
  const matched = found.find((t) => t.trace_id === traceId).matched_span_id;
  await page.locator(`#search-scatter circle[data-id="${traceId}"]`).click();
  await page.waitForURL(new RegExp(`#/trace/${traceId}\\?span=${matched}`));
  await page.waitForSelector('#waterfall tbody tr.span-row');
  check(await page.locator(`#waterfall tr.selected[data-span-id="${matched}"]`).count() === 1, 'the trace opens at the span that matched');

  // ---- Trace: the span that logged "payment approved" lists its records.
  const trace = await apiGet(`/api/traces/${traceId}`);
  const logged = trace.spans.find((s) => (s.logs || []).some((l) => l.body === LOGGED));
  check(logged, `no span of ${traceId} has the record "${LOGGED}" in the API's answer`);
  const markedRows = await page.$$eval('#waterfall tr.span-row', (trs) => trs.filter((tr) => Number(tr.dataset.logs) > 0).map((tr) => tr.dataset.spanId));
  const apiLogged = trace.spans.filter((s) => (s.logs || []).length > 0).map((s) => s.span_id);
  check(markedRows.join() === apiLogged.join(), `rows marked as logging: ${markedRows.join(', ')}; the API: ${apiLogged.join(', ')}`);
  check(await page.locator(`#waterfall tr[data-span-id="${logged.span_id}"] .log-mark`).count() === logged.logs.length,
    'the span\u2019s bar marks each of its records');
  await page.locator(`#waterfall tr[data-span-id="${logged.span_id}"] button.span-toggle-details`).click();
  await page.waitForFunction((name) => document.querySelector('#span-details:not([hidden]) .details-head h2')?.textContent === name, logged.name);
  const records = await page.$$eval('#span-details ol.logs li', (lis) => lis.map((li) => ({
    body: li.querySelector('.log-body')?.textContent,
    severity: li.querySelector('.severity')?.textContent,
    offset: li.querySelector('.log-head .mono')?.textContent,
    attributes: [...li.querySelectorAll('table.kv th')].map((th) => th.textContent),
  })));
  check(records.map((r) => r.body).join('|') === logged.logs.map((l) => l.body).join('|'),
    `the details list the records ${records.map((r) => r.body).join(', ')}; the API has ${logged.logs.map((l) => l.body).join(', ')}`);
  const approved = records.find((r) => r.body === LOGGED);
  const apiRecord = logged.logs.find((l) => l.body === LOGGED);
  check(approved.severity === apiRecord.severity_text, `the record's severity reads ${approved.severity}, the API's ${apiRecord.severity_text}`);
  check(/^\+/.test(approved.offset), `the record's time is given from the span's start: ${approved.offset}`);
  for (const key of Object.keys(apiRecord.attributes)) check(approved.attributes.includes(key), `the record's attribute ${key} is not listed`);
  // The details panel scrolls on its own: bring the records into it, and take what the
  // window shows (a full-page picture would cut the panel at the page's end).
  await page.locator('#span-details ol.logs').evaluate((list) => list.scrollIntoView({ block: 'center' }));
  await page.screenshot({ path: `${artifacts}/2-trace-logs.png` });
  // A span without records says so.
  const quiet = trace.spans.find((s) => !(s.logs || []).length);
  check(quiet, 'every span of the checkout logged something');
  await page.locator(`#waterfall tr[data-span-id="${quiet.span_id}"] button.span-toggle-details`).click();
  await page.waitForFunction((name) => document.querySelector('#span-details:not([hidden]) .details-head h2')?.textContent === name, quiet.name);
  const none = await page.locator('#span-details .no-logs').innerText();
  check(none === 'no logs for this span', `a span without records reads: ${none}`);
  await noErrorBox('trace');

  // ---- RED: per service, three charts with a line per service.
  const series = await apiGet('/api/red/series?since=15m');
  await page.goto(`${uiUrl}/#/red`);
  await page.waitForSelector('#red-chart-rate .td-chart-series');
  const charts = {};
  for (const measure of ['rate', 'errors', 'p95']) {
    const drawn = await page.$$eval(`#red-chart-${measure} .td-chart-series`, (gs) => gs.map((g) => ({
      name: g.getAttribute('data-series'),
      paths: [...g.querySelectorAll('path.td-chart-line')].map((p) => p.getAttribute('d') || ''),
      points: g.querySelectorAll('circle.td-chart-point').length,
    })));
    const names = drawn.map((d) => d.name).sort();
    const apiNames = series.series.map((s) => s.service).sort();
    check(names.join() === apiNames.join(), `the ${measure} chart draws ${names.join(', ')}; the API has ${apiNames.join(', ')}`);
    check(drawn.every((d) => d.paths.length + d.points > 0), `a series of the ${measure} chart draws nothing`);
    charts[measure] = drawn;
  }
  // Rates are there in every bucket (zeros too): every service's rate is one unbroken line.
  for (const line of charts.rate) {
    check(line.paths.length === 1 && (line.paths[0].match(/L/g) || []).length >= 50, `the rate line of ${line.name} is not one line over the window: ${line.paths.join(' ')}`);
  }
  const lengths = await drawnLength('#red-chart-rate path.td-chart-line');
  check(lengths.length > 0 && lengths.every((l) => l > 100), `rate lines drawn with lengths ${lengths.join(', ')}`);
  const rateLabels = await page.locator('#red-chart-rate .td-chart-axis text').allTextContents();
  check(rateLabels.some((t) => t.endsWith('/s')), `the rate axis has no unit: ${rateLabels.join(', ')}`);
  const p95Labels = await page.locator('#red-chart-p95 .td-chart-axis text').allTextContents();
  check(p95Labels.some((t) => /\d (ms|s|µs)$/.test(t)), `the p95 axis has no unit: ${p95Labels.join(', ')}`);
  // The error-rate axis is at least 0-4 %: without errors it does not suggest a scale of 25 %.
  const errorTops = (await page.locator('#red-chart-errors .td-chart-axis text').allTextContents())
    .filter((t) => t.endsWith('%')).map((t) => parseFloat(t));
  const worst = Math.max(0, ...series.series.flatMap((s) => (s.points || []).map((p) => p.error_rate || 0)));
  check(errorTops.length >= 2, `the error-rate axis has no percentages: ${errorTops.join(', ')}`);
  if (worst <= 0.04) check(Math.max(...errorTops) === 4, `with errors at most ${worst}, the error-rate axis reaches ${Math.max(...errorTops)} %`);
  const legend = await page.locator('#red-charts .chart-legend button').count();
  check(legend === series.series.length, `the legend lists ${legend} services for ${series.series.length} series`);

  // Choosing the checkout endpoint's row charts it, and brings its service forward.
  const row = page.locator(`#red-endpoints tbody tr[data-service="frontend"][data-operation="${CHECKOUT}"]`);
  await row.locator('td.num').first().click();
  await page.waitForSelector('#red-endpoint-charts:not([hidden]) #red-endpoint-chart-rate path.td-chart-line');
  check(new URLSearchParams(page.url().split('?')[1]).get('endpoint') === CHECKOUT, `the chosen endpoint is not in the address: ${page.url()}`);
  check(await row.getAttribute('class').then((c) => c.includes('selected')), 'the chosen row is marked');
  const heading = await page.locator('#red-endpoint-charts h2').innerText();
  check(heading.includes(CHECKOUT) && heading.includes('frontend'), `the endpoint charts are headed ${heading}`);
  const endpointSeries = await page.$$eval('#red-endpoint-chart-rate .td-chart-series', (gs) => gs.map((g) => g.getAttribute('data-series')));
  check(endpointSeries.join() === CHECKOUT, `the endpoint's rate chart draws ${endpointSeries.join(', ')}`);
  const endpointLength = await drawnLength('#red-endpoint-chart-rate path.td-chart-line');
  check(endpointLength.length === 1 && endpointLength[0] > 100, `the endpoint's rate line is ${endpointLength.join(', ')} long`);
  const p95Drawn = await page.locator('#red-endpoint-chart-p95 .td-chart-series path, #red-endpoint-chart-p95 .td-chart-series circle').count();
  check(p95Drawn > 0, 'the endpoint\u2019s p95 chart draws nothing');
  const bold = await page.$$eval('#red-chart-rate .td-chart-highlight', (gs) => gs.map((g) => g.getAttribute('data-series')));
  check(bold.join() === 'frontend', `the service charts bring forward ${bold.join(', ') || 'nothing'}, not frontend`);
  await noErrorBox('RED');
  await shot('3-red-charts');

  // Pointing at a chart reads the values there. (Live refresh off: a redraw would take the
  // readout away until the pointer moves again.)
  await page.locator('#live').uncheck();
  const rateBox = await page.locator('#red-chart-rate').boundingBox();
  await page.mouse.move(rateBox.x + rateBox.width * 0.97, rateBox.y + rateBox.height * 0.4);
  await page.waitForFunction(() => document.querySelector('#red-chart-rate .td-chart-tip')?.getAttribute('visibility') === 'visible');
  const readout = await page.locator('#red-chart-rate .td-chart-tip text').allTextContents();
  check(readout.length === Math.min(8, series.series.length) + 1 && readout.some((t) => /^frontend: [\d.]+\/s$/.test(t)),
    `the readout at the newest bucket says ${readout.join(' | ')}`);

  checkNoProblems(problems);
  console.log(JSON.stringify({
    ok: true,
    dots: dots.length,
    failing_dots: dots.filter((d) => d.error).length,
    opened: traceId,
    logged_span: `${logged.service} ${logged.name}`,
    records: records.map((r) => r.body),
    red_series: Object.fromEntries(Object.entries(charts).map(([k, v]) => [k, v.length])),
    endpoint_heading: heading,
    readout,
  }));
} catch (error) {
  reportFailure('explorer pictures check', error, problems);
} finally {
  await browser.close();
}
