// Opens the explorer's Errors view in Debian's headless Chromium, narrowed to one namespace,
// and compares what it shows with what the JSON API answers. Saves a screenshot.
// Usage: node errors.mjs UI_URL ARTIFACT_DIR NAMESPACE MODE
//   MODE few:    the window holds fewer than 4 failing traces: the attributes section shows the
//                API's note instead of a ranking.
//   MODE ranked: the window holds failing gold checkouts among succeeding ones: the first
//                attribute row is tracedojo.user.tier = gold, and the checkout route's row
//                says which other spellings are the same.
// Exits 0 when every check passed (printing one JSON line); otherwise says what failed, exits 1.
import { check, checkNoErrorBox, checkNoProblems, collectProblems, jsonApi, launchChromium, reportFailure, screenshot } from './lib.mjs';
import { mkdirSync } from 'node:fs';

const [uiUrl, artifacts, namespace, mode] = process.argv.slice(2);
if (!uiUrl || !artifacts || !namespace || !['few', 'ranked'].includes(mode)) {
  console.error('usage: node errors.mjs UI_URL ARTIFACT_DIR NAMESPACE few|ranked');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const TIER = { key: 'tracedojo.user.tier', value: 'gold' };
const ROUTE = { key: 'http.route', value: '/checkout' };

const apiGet = jsonApi(uiUrl);

const browser = await launchChromium();
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  collectProblems(page, problems);
  const shot = (name) => screenshot(page, artifacts, name);

  // What the page will show: the same window (the view's default, 15 minutes) and namespace.
  const api = await apiGet(`/api/errors?since=15m&namespace=${encodeURIComponent(namespace)}`);

  await page.goto(`${uiUrl}/?namespace=${encodeURIComponent(namespace)}#/errors`);
  await page.waitForFunction((ns) => document.getElementById('namespace')?.value === ns, namespace);
  await page.waitForSelector('#errors-summary .stat');
  await page.waitForSelector('#root-causes tbody tr');
  await checkNoErrorBox(page, 'the Errors view');
  const summary = await page.locator('#errors-summary').innerText();
  check(summary.includes(String(api.failing_traces)), `the summary does not show the ${api.failing_traces} failing traces: ${summary}`);
  const cause = await page.locator('#root-causes tbody tr').first().innerText();
  check(cause.includes('checkout') && cause.includes('POST /checkout'), `the first root cause is not checkout's POST /checkout: ${cause}`);
  const section = page.locator('section[aria-label="Attributes that separate failing requests"]');

  let shown;
  if (mode === 'few') {
    check(api.too_few_failing_traces === true && api.note && api.failing_traces > 0 && api.failing_traces < 4,
      `the API's window should hold 1 to 3 failing traces: ${JSON.stringify(api)}`);
    await section.locator('.empty').waitFor();
    shown = await section.locator('.empty').innerText();
    check(shown.includes(`Too few failing traces to tell: ${api.note}.`), `the attributes section does not show the API's note (${api.note}): ${shown}`);
    check(await page.locator('#error-attributes').count() === 0, 'a ranking is shown beside the note');
    await shot('1-too-few');
  } else {
    check(api.too_few_failing_traces === false && api.attributes.length >= 2, `the API ranks nothing: ${JSON.stringify(api)}`);
    await page.waitForSelector('#error-attributes tbody tr');
    const rows = await page.$$eval('#error-attributes tbody tr', (trs) => trs.map((tr) => ({
      key: tr.cells[0].innerText.trim(),
      value: tr.cells[1].querySelector('a')?.textContent.trim(),
      sameAs: tr.cells[1].querySelector('.same-as')?.innerText.trim() || '',
    })));
    check(rows.length === api.attributes.length, `the page shows ${rows.length} attribute rows, the API ${api.attributes.length}`);
    rows.forEach((row, i) => check(row.key === api.attributes[i].key && row.value === String(api.attributes[i].value),
      `row ${i} shows ${row.key}=${row.value}, the API ${api.attributes[i].key}=${api.attributes[i].value}`));
    check(rows[0].key === TIER.key && rows[0].value === TIER.value, `the first attribute row is ${rows[0].key}=${rows[0].value}, not the gold tier`);
    check(rows[0].sameAs === '', `the tier's row says it is the same as something: ${rows[0].sameAs}`);
    const route = rows.find((r) => r.key === ROUTE.key && r.value === ROUTE.value);
    check(route, `no row for ${ROUTE.key}=${ROUTE.value}: ${JSON.stringify(rows)}`);
    const apiRoute = api.attributes.find((a) => a.key === ROUTE.key && a.value === ROUTE.value);
    const spellings = apiRoute.same_as.map((s) => `${s.key}=${s.value}`);
    check(spellings.includes('http.route=/api/checkout'), `the API's route row lacks the frontend's spelling: ${spellings.join(', ')}`);
    check(route.sameAs.startsWith('same as ') && spellings.every((s) => route.sameAs.includes(s)),
      `the route's row reads "${route.sameAs}", not "same as ${spellings.join(', ')}"`);
    check(await section.locator('.empty').count() === 0, 'a note is shown beside the ranking');
    shown = rows.map((r) => `${r.key}=${r.value}${r.sameAs ? ` (${r.sameAs})` : ''}`);
    await shot('2-ranked');
  }

  checkNoProblems(problems);
  console.log(JSON.stringify({ ok: true, mode, namespace, failing_traces: api.failing_traces, shown }));
} catch (error) {
  reportFailure(`errors view check (${mode})`, error, problems);
} finally {
  await browser.close();
}
