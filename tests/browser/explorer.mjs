// Uses the explorer's web UI in Debian's headless Chromium as a person would, and compares
// what it shows with what the JSON API answers. Saves a screenshot of every page.
// Usage: node explorer.mjs UI_URL ARTIFACT_DIR
// Expects the explorer to hold a checkout trace of the shop (approved card), a declined one,
// and the span of service "escape-check" whose name and attribute hold markup.
// Exits 0 when every check passed (printing one JSON line); otherwise says what failed, exits 1.
import { check, checkNoErrorBox, checkNoProblems, collectDialogs, collectProblems, jsonApi, launchChromium, reportFailure, screenshot } from './lib.mjs';
import { mkdirSync } from 'node:fs';

const [uiUrl, artifacts] = process.argv.slice(2);
if (!uiUrl || !artifacts) {
  console.error('usage: node explorer.mjs UI_URL ARTIFACT_DIR');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const CHECKOUT = 'POST /api/checkout';
const HOSTILE_VALUE = '<script>alert("x")</script>';
const HOSTILE_NAME = 'GET /<img src=x onerror=alert(1)>';

const apiGet = jsonApi(uiUrl);

const browser = await launchChromium();
const problems = [];
let expectRefusal = false;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const dialogs = [];
  collectDialogs(page, dialogs);
  // The browser logs the 400 of the refused search the test makes on purpose.
  collectProblems(page, problems, (text) => expectRefusal && /status of 400/.test(text));
  const shot = (name) => screenshot(page, artifacts, name);
  const noErrorBox = (where) => checkNoErrorBox(page, where);
  // Waits until the results on the page answer this search (not an earlier one).
  const searched = async (fields) => {
    const query = new URLSearchParams(fields).toString();
    await page.waitForFunction((q) => document.getElementById('search-results')?.dataset.query === q, query);
  };
  const openTab = async (tab) => {
    await page.locator(`nav.tabs a[data-tab="${tab}"]`).click();
    await page.waitForURL(new RegExp(`#/${tab}`));
  };

  // The header: the status line and the links the explorer was given, opening a new tab.
  await page.goto(`${uiUrl}/#/search`);
  await page.waitForFunction(() => /\d+ spans/.test(document.getElementById('status').textContent));
  const links = await page.$$eval('#links a', (as) => as.map((a) => ({ href: a.href, target: a.target, text: a.textContent })));
  check(links.length >= 1 && links.every((l) => /^https?:/.test(l.href) && l.target === '_blank'),
    `the header's links: ${JSON.stringify(links)}`);

  // Search: frontend's checkout route, through the form.
  await page.waitForSelector('#f-service option[value="frontend"]', { state: 'attached' });
  await page.selectOption('#f-service', 'frontend');
  await page.waitForSelector(`#f-operation option[value="${CHECKOUT}"]`, { state: 'attached' });
  await page.selectOption('#f-operation', CHECKOUT);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/#\/search\?.*operation=/);
  await searched({ service: 'frontend', operation: CHECKOUT });
  const found = await page.locator('#results tbody tr').count();
  check(found >= 2, `the search found ${found} checkout traces, expected the approved and the declined one`);
  const roots = await page.locator('#results tbody tr .op').allInnerTexts();
  check(roots.every((r) => r === CHECKOUT), `every trace found is a checkout: ${roots.join(', ')}`);
  check(await page.locator('#results tbody tr.has-error').count() >= 1, 'the declined checkout is marked as failing');
  await noErrorBox('search');
  await shot('1-search');

  // The approved checkout's trace: the waterfall against the API.
  await page.locator('#results tbody tr:not(.has-error) a.trace-link').first().click();
  await page.waitForURL(/#\/trace\/[0-9a-f]{32}/);
  await page.waitForSelector('#waterfall tbody tr.span-row');
  const traceId = page.url().match(/#\/trace\/([0-9a-f]{32})/)[1];
  const trace = await apiGet(`/api/traces/${traceId}`);
  const rows = await page.$$eval('#waterfall tbody tr.span-row', (trs) => trs.map((tr) => ({
    id: tr.dataset.spanId,
    parent: tr.dataset.parentSpanId,
    depth: Number(tr.dataset.depth),
    critical: tr.classList.contains('critical'),
    error: tr.classList.contains('error'),
    name: tr.querySelector('.span-name').textContent,
  })));
  check(rows.length === trace.span_count, `the waterfall has ${rows.length} rows, the API says ${trace.span_count} spans`);
  check(rows.map((r) => r.id).join() === trace.spans.map((s) => s.span_id).join(), 'rows are in the API\u2019s waterfall order');
  const byId = new Map(rows.map((r) => [r.id, r]));
  let nested = 0;
  for (const row of rows) {
    const parent = byId.get(row.parent);
    if (!parent) continue;
    check(row.depth === parent.depth + 1, `span ${row.id} (${row.name}) has depth ${row.depth}, its parent ${parent.depth}`);
    nested += 1;
  }
  check(nested === rows.length - 1, `${nested} of ${rows.length} rows sit under their parent; only the root should not`);
  const critical = rows.filter((r) => r.critical).length;
  const apiCritical = trace.spans.filter((s) => s.critical_path_nanos > 0).length;
  check(critical >= 1 && critical === apiCritical, `${critical} rows are marked critical, the API has ${apiCritical} spans on the critical path`);
  check(await page.locator('.legend').count() === 1, 'the waterfall has a legend');
  const maxDepth = Math.max(...rows.map((r) => r.depth));
  check(maxDepth >= 3, `the checkout nests ${maxDepth} deep, expected at least 3`);
  await noErrorBox('trace');
  await shot('2-trace');

  // Span details: the checkout service's SERVER span.
  const chosen = trace.spans.find((s) => s.service === 'checkout' && s.kind === 'SERVER') || trace.spans[1];
  await page.locator(`#waterfall tr[data-span-id="${chosen.span_id}"] button.span-toggle-details`).click();
  await page.waitForSelector('#span-details:not([hidden])');
  const details = await page.locator('#span-details').innerText();
  check(details.includes(chosen.name) && details.includes(chosen.span_id), 'the details name the chosen span');
  for (const key of Object.keys(chosen.attributes).slice(0, 5)) check(details.includes(key), `the details list attribute ${key}`);
  for (const key of Object.keys(chosen.resource).slice(0, 5)) check(details.includes(key), `the details list resource attribute ${key}`);
  check(page.url().includes(`span=${chosen.span_id}`), 'the chosen span is in the page\u2019s address');
  await shot('3-span-details');

  // Live refresh (on by default) fetches again within 5 s and keeps the chosen span.
  check(await page.locator('#live').isChecked(), 'live refresh is on by default');
  const before = await page.getAttribute('#updated', 'data-at');
  await page.waitForFunction((at) => document.getElementById('updated').dataset.at !== at, before, { timeout: 12000 });
  check(await page.locator(`#waterfall tr.selected[data-span-id="${chosen.span_id}"]`).count() === 1, 'after a refresh the span is still chosen');
  check(await page.locator('#span-details').isVisible(), 'after a refresh the details are still open');

  // Span details list a span's events: the span with the checkout's "order placed" event
  // (the frontend's SERVER span), or else any span the API gives events.
  const withEvents = trace.spans.find((s) => (s.events || []).some((e) => e.name === 'order placed'))
    || trace.spans.find((s) => (s.events || []).length > 0);
  check(withEvents, `no span of checkout trace ${traceId} has events in the API's answer`);
  await page.locator(`#waterfall tr[data-span-id="${withEvents.span_id}"] button.span-toggle-details`).click();
  await page.waitForFunction((name) => document.querySelector('#span-details:not([hidden]) .details-head h2')?.textContent === name, withEvents.name);
  const eventNames = await page.locator('#span-details ol.events li .event-head strong').allInnerTexts();
  // An event a log record of the span repeats (same text, within a millisecond) is listed
  // once, under Logs; every other one under Events.
  const logs = withEvents.logs || [];
  const repeats = (e) => e.name !== 'exception'
    && logs.some((l) => l.body === e.name && Math.abs(l.time_unix_nanos - e.time_unix_nanos) < 1e6);
  const apiEventNames = withEvents.events.filter((e) => !repeats(e)).map((e) => e.name);
  check(eventNames.join('|') === apiEventNames.join('|'),
    `the details of ${withEvents.name} list the events ${eventNames.join(', ') || '(none)'}, the API has ${apiEventNames.join(', ')} besides its log records`);
  const eventsText = await page.locator('#span-details').innerText();
  for (const e of withEvents.events) check(eventsText.includes(e.name), `the details show the event ${e.name} (as an event or a log record)`);
  const repeated = withEvents.events.filter(repeats).length;
  if (repeated) {
    const note = await page.locator('#span-details .events-as-logs').innerText();
    check(note.startsWith(`${repeated} event`) && note.endsWith('listed under Logs'), `the details say ${repeated} events are under Logs: ${note}`);
  }

  // Service map: a node for every service the explorer has spans of (the shipping worker's
  // and the hostile span's too), not only the checkout's.
  const services = (await apiGet('/api/services')).services.map((s) => s.name);
  for (const name of ['frontend', 'shipping', 'escape-check']) check(services.includes(name), `/api/services lacks ${name}: ${services.join(', ')}`);
  await openTab('map');
  await page.waitForSelector('#service-map g.node');
  const mapNames = () => page.$$eval('#service-map [data-service]', (gs) => gs.map((g) => g.getAttribute('data-service')));
  // The map is drawn from its own request: give it a moment to hold every service.
  await page.waitForFunction((names) => {
    const have = new Set([...document.querySelectorAll('#service-map [data-service]')].map((g) => g.getAttribute('data-service')));
    return names.every((n) => have.has(n));
  }, services, { timeout: 10000 }).catch(() => {});
  const nodes = await mapNames();
  const missing = [...new Set([...services, ...trace.services])].filter((s) => !nodes.includes(s));
  check(missing.length === 0, `the map lacks nodes for ${missing.join(', ')} (has ${nodes.join(', ')})`);
  const edges = await page.locator('#service-map path.edge').count();
  check(edges >= trace.services.length - 1, `the map draws ${edges} calls for ${trace.services.length} services`);
  const label = await page.locator('#service-map .edge-label').first().textContent();
  check(/req\/s · .*% err · p95 /.test(label), `an edge label reads ${label}`);
  await noErrorBox('map');
  await shot('4-map');

  // RED: endpoints and the database queries.
  await openTab('red');
  await page.waitForSelector('#red-queries tbody tr');
  const queries = await page.locator('#red-queries tbody tr').allInnerTexts();
  const sql = queries.filter((q) => /\b(SELECT|INSERT|UPDATE)\b/.test(q));
  check(sql.length >= 1, `the queries table lists no SQL: ${queries.slice(0, 3).join(' | ')}`);
  const endpoints = await page.locator('#red-endpoints tbody tr').allInnerTexts();
  check(endpoints.some((e) => e.includes(CHECKOUT)), `the endpoints table lacks ${CHECKOUT}`);
  await noErrorBox('RED');
  await shot('5-red');

  // Errors: the declined checkout is a failing trace with a root cause.
  await openTab('errors');
  await page.waitForSelector('#errors-summary .stat');
  await page.waitForSelector('#root-causes tbody tr');
  const causes = await page.locator('#root-causes tbody tr').count();
  await noErrorBox('errors');
  await shot('6-errors');

  // A refused search says why next to the form and marks the field.
  expectRefusal = true;
  await page.goto(`${uiUrl}/#/search?service=frontend&min_duration=soon`);
  await searched({ service: 'frontend', min_duration: 'soon' });
  const refusal = await page.locator('#search-error .error-box').innerText();
  check(refusal.length > 0, 'a refused search shows the API\u2019s message');
  check(await page.locator('#f-min[aria-invalid="true"]').count() === 1, `the refused field is marked (message: ${refusal})`);
  expectRefusal = false;

  // The shipping worker's trace links back to the checkout that queued the order.
  const worker = (await apiGet(`/api/traces?service=shipping&operation=${encodeURIComponent('process order.created')}`)).traces[0];
  check(worker, 'the shipping worker\u2019s trace is stored');
  await page.goto(`${uiUrl}/#/trace/${worker.trace_id}?span=${worker.matched_span_id}`);
  await page.waitForSelector('#span-details:not([hidden])');
  const linked = await page.$$eval('#span-details a[href^="#/trace/"]', (as) => as.map((a) => a.getAttribute('href')));
  check(linked.length >= 1, 'the consumer span\u2019s link is shown as a link to the producing trace');
  await page.locator('#span-details a[href^="#/trace/"]').first().click();
  await page.waitForSelector('#waterfall tbody tr.span-row');
  check(await page.locator('#waterfall tbody tr.selected').count() === 1, 'following a link opens its trace at the linked span');

  // Markup in span data is shown as text and never run.
  await page.goto(`${uiUrl}/#/search?service=escape-check`);
  await searched({ service: 'escape-check' });
  await page.locator('#results tbody tr a.trace-link').first().click();
  await page.waitForSelector('#waterfall tbody tr.span-row');
  const shownName = await page.locator('#waterfall .span-name').first().textContent();
  check(shownName === HOSTILE_NAME, `the span name is shown as text: ${shownName}`);
  await page.locator('#waterfall button.span-toggle-details').first().click();
  await page.waitForSelector('#span-details:not([hidden])');
  const escaped = await page.locator('#span-details').innerText();
  check(escaped.includes(HOSTILE_VALUE), `the attribute value is shown verbatim: ${escaped.slice(0, 300)}`);
  const injected = await page.evaluate(() => ({
    scripts: [...document.scripts].map((s) => s.src || s.textContent.slice(0, 40)),
    images: document.querySelectorAll('img[src="x"]').length,
  }));
  // The page's own two scripts (the charts, then the app) and nothing else.
  check(injected.scripts.length === 2 && injected.scripts[0].endsWith('/assets/chart.js') && injected.scripts[1].endsWith('/assets/app.js'),
    `script elements on the page: ${injected.scripts.join(', ')}`);
  check(injected.images === 0, 'an img element was made from the span name');
  await shot('7-escaped');

  // A custom time range: a link with start and end (Unix ms) around the approved checkout
  // shows them in the form's from and to inputs and finds the checkout.
  const rangeStart = Math.floor(trace.start_unix_nanos / 1e6) - 1000;
  const rangeEnd = Math.ceil((trace.start_unix_nanos + trace.duration_nanos) / 1e6) + 1000;
  await page.goto(`${uiUrl}/#/search?start=${rangeStart}&end=${rangeEnd}`);
  await searched({ start: rangeStart, end: rangeEnd });
  const shown = await page.evaluate(() => ({
    select: document.getElementById('f-since').value,
    option: document.getElementById('f-since').selectedOptions[0]?.textContent,
    from: document.getElementById('f-from').value,
    to: document.getElementById('f-to').value,
    // A datetime-local value has no offset: Date reads it as local time, as the page means it.
    fromMs: new Date(document.getElementById('f-from').value).getTime(),
    toMs: new Date(document.getElementById('f-to').value).getTime(),
  }));
  check(shown.select === 'custom' && /custom range/.test(shown.option), `the time range select shows ${shown.select} (${shown.option}), not the custom range`);
  check(await page.getByLabel('From', { exact: true }).isVisible() && await page.getByLabel('To', { exact: true }).isVisible(),
    'the custom range\u2019s From and To inputs are shown and labelled');
  check(shown.fromMs === rangeStart && shown.toMs === rangeEnd,
    `the inputs show ${shown.from} to ${shown.to} (${shown.fromMs}..${shown.toMs}), the link asked for ${rangeStart}..${rangeEnd}`);
  check(await page.locator(`#results tbody tr[data-trace-id="${traceId}"]`).count() === 1,
    `the checkout ${traceId} is not among the traces of its own time range`);
  await noErrorBox('custom range search');
  await shot('8-custom-range');

  // Submitting the form again keeps the range (here with a larger limit).
  await page.fill('#f-limit', '50');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/#\/search\?.*limit=50/);
  const resubmitted = new URLSearchParams(page.url().split('?')[1]);
  check(resubmitted.get('start') === String(rangeStart) && resubmitted.get('end') === String(rangeEnd) && !resubmitted.has('since'),
    `submitting the form again asked for ${resubmitted}, not start=${rangeStart}&end=${rangeEnd}`);
  await searched({ start: rangeStart, end: rangeEnd, limit: 50 });
  check(await page.locator(`#results tbody tr[data-trace-id="${traceId}"]`).count() === 1, 'the resubmitted range still finds the checkout');

  // A range typed into the inputs that ends a minute before the first checkout finds none.
  const checkouts = (await apiGet(`/api/traces?service=frontend&operation=${encodeURIComponent(CHECKOUT)}`)).traces;
  const firstCheckout = Math.min(...checkouts.map((t) => t.start_unix_nanos)) / 1e6;
  const beforeEnd = Math.floor((firstCheckout - 60000) / 60000) * 60000;
  const beforeStart = beforeEnd - 10 * 60000;
  const localInput = (ms) => page.evaluate((at) => {
    const d = new Date(at);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  }, ms);
  await page.fill('#f-from', await localInput(beforeStart));
  await page.fill('#f-to', await localInput(beforeEnd));
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(new RegExp(`start=${beforeStart}&end=${beforeEnd}`));
  await searched({ start: beforeStart, end: beforeEnd, limit: 50 });
  const earlier = await page.locator('#results tbody tr .op').allInnerTexts();
  check(!earlier.includes(CHECKOUT), `the range before the checkouts found checkouts: ${earlier.join(', ')}`);
  await noErrorBox('earlier range search');

  // A range the API refuses (it ends before it starts) marks the To input.
  expectRefusal = true;
  await page.goto(`${uiUrl}/#/search?start=${rangeEnd}&end=${rangeStart}`);
  await searched({ start: rangeEnd, end: rangeStart });
  const rangeRefusal = await page.locator('#search-error .error-box').innerText();
  check(await page.locator('#f-to[aria-invalid="true"]').count() === 1 && await page.locator('#f-from[aria-invalid="true"]').count() === 0,
    `the refused range marks the To input (message: ${rangeRefusal})`);
  expectRefusal = false;

  check(dialogs.length === 0, `a script ran from span data: ${dialogs.join(', ')}`);
  checkNoProblems(problems);

  console.log(JSON.stringify({
    ok: true,
    trace_id: traceId,
    traces_found: found,
    waterfall_rows: rows.length,
    max_depth: maxDepth,
    critical_rows: critical,
    events_listed: eventNames,
    map_nodes: nodes.length,
    services_listed: services.length,
    map_edges: edges,
    sql_queries: sql.length,
    endpoints: endpoints.length,
    root_causes: causes,
    refusal,
    links_followed: linked.length,
    custom_range: { start: rangeStart, end: rangeEnd, shown: [shown.from, shown.to], earlier_traces: earlier.length },
    range_refusal: rangeRefusal,
  }));
} catch (error) {
  reportFailure('explorer browser check', error, problems);
} finally {
  await browser.close();
}
