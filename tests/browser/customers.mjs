// Opens the explorer's Customers view in Debian's headless Chromium over an incident's window,
// narrowed to one namespace, and compares what it shows with what the JSON API answers: the
// ranking, each customer's requests, failures and affected requests, the totals. Then follows
// the first customer's links to its traces and its failing traces, asks for slow requests too,
// looks at another namespace (empty) and at a refused "slower than". Saves a screenshot of each.
// Usage: node customers.mjs UI_URL ARTIFACT_DIR NAMESPACE START_MS END_MS COMPANY
//   COMPANY is the customer the API ranks first over the window (the one a fault hit).
// Exits 0 when every check passed (printing one JSON line); otherwise says what failed, exits 1.
import { check, checkNoErrorBox, checkNoProblems, collectProblems, jsonApi, launchChromium, reportFailure, screenshot } from './lib.mjs';
import { mkdirSync } from 'node:fs';

const [uiUrl, artifacts, namespace, start, end, company] = process.argv.slice(2);
if (!uiUrl || !artifacts || !namespace || !/^\d+$/.test(start || '') || !/^\d+$/.test(end || '') || !company) {
  console.error('usage: node customers.mjs UI_URL ARTIFACT_DIR NAMESPACE START_MS END_MS COMPANY');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const apiGet = jsonApi(uiUrl);

/** "1,234" as the page writes counts, back to a number. */
const count = (text) => Number(String(text).replace(/[^\d]/g, ''));

const range = `start=${start}&end=${end}`;
const ns = `namespace=${encodeURIComponent(namespace)}`;

const browser = await launchChromium();
const problems = [];
let expectRefusal = false;
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
  // The browser logs the 400 of the refused "slower than" the script asks for on purpose.
  collectProblems(page, problems, (text) => expectRefusal && /status of 400/.test(text));
  const shot = (name) => screenshot(page, artifacts, name);
  const noErrorBox = (where) => checkNoErrorBox(page, where);
  /** The customers table as the page shows it, by column header. */
  const tableRows = () => page.$$eval('#customers-table', ([table]) => {
    // textContent: the headers are shown in capitals, which innerText would give.
    const labels = [...table.tHead.rows[0].cells].map((th) => th.textContent.replace(/[▾▴]/g, '').trim());
    return [...table.tBodies[0].rows].map((tr) => {
      const cells = {};
      labels.forEach((label, i) => { cells[label] = tr.cells[i].innerText.trim(); });
      return { customer: tr.dataset.customer, cells };
    });
  });
  /** Opens the Customers view at `hash` (of this page's namespace unless told otherwise). */
  const openCustomers = async (hash, pageNamespace = namespace) => {
    await page.goto(`${uiUrl}/?namespace=${encodeURIComponent(pageNamespace)}#/customers?${hash}`);
    await page.waitForFunction((n) => document.getElementById('namespace')?.value === n, pageNamespace);
    await page.waitForFunction(() => document.getElementById('customers')?.getAttribute('aria-busy') === null);
  };
  /** Waits until the search shows the results of a query holding `part`. */
  const searchShows = async (part) => {
    await page.waitForFunction((p) => {
      const results = document.getElementById('search-results');
      return results && results.getAttribute('aria-busy') === null && (results.dataset.query || '').includes(p);
    }, part);
  };

  // 1. The incident's window: the page's ranking and figures are the API's.
  const api = await apiGet(`/api/customers?${range}&${ns}`);
  check(api.customers.length >= 2 && api.customers[0].customer === company,
    `the API does not rank ${company} first: ${JSON.stringify(api.customers.map((c) => c.customer))}`);
  await openCustomers(range);
  await page.waitForSelector('#customers-table tbody tr');
  await noErrorBox('the Customers view');
  const rows = await tableRows();
  check(rows.length === api.customers.length, `the page lists ${rows.length} customers, the API ${api.customers.length}`);
  rows.forEach((row, i) => {
    const want = api.customers[i];
    const shown = `${row.customer}: ${row.cells.Requests} requests, ${row.cells.Failed} failed, ${row.cells.Affected} affected`;
    check(row.customer === want.customer && row.cells.Customer === want.customer,
      `row ${i + 1} is ${row.customer}, the API's is ${want.customer}`);
    check(count(row.cells.Requests) === want.requests && count(row.cells.Failed) === want.errors && count(row.cells.Affected) === want.affected,
      `row ${i + 1} reads "${shown}", the API ${want.requests} requests, ${want.errors} failed, ${want.affected} affected`);
    check(row.cells['#'] === String(i + 1), `row ${i + 1} is numbered ${row.cells['#']}`);
  });
  check(!('Slower than' in rows[0].cells), 'a "slower than" column without slower_than');
  const summary = await page.locator('#customers-summary').innerText();
  check(summary.includes(api.requests.toLocaleString('en-US')) && summary.includes(api.affected_requests.toLocaleString('en-US')),
    `the summary does not show ${api.requests} requests and ${api.affected_requests} failed: ${summary}`);
  check(summary.includes(api.attribute), `the summary does not name the attribute ${api.attribute}: ${summary}`);
  const placeholder = await page.getAttribute('#f-attribute', 'placeholder');
  check(placeholder === api.attribute, `the attribute field shows "${placeholder}", not ${api.attribute}`);
  await shot('1-customers');

  // 2. The first customer's link: a search of its traces over the same window.
  const filter = `${api.attribute}=${company}`;
  await page.locator('#customers-table tbody tr').first().locator('a.customer-link').click();
  await page.waitForURL(/#\/search\?/);
  await searchShows('attr=');
  await noErrorBox('the customer\u2019s search');
  const attrs = await page.inputValue('#f-attrs');
  check(attrs === filter, `the search is filtered to "${attrs}", not ${filter}`);
  const found = await page.locator('#results tbody tr').count();
  const apiFound = await apiGet(`/api/traces?attr=${encodeURIComponent(filter)}&${range}&${ns}`);
  check(found > 0 && found === apiFound.traces.length, `the search shows ${found} traces, the API finds ${apiFound.traces.length}`);
  await shot('2-search');

  // 3. Its failing traces.
  await page.goBack();
  await page.waitForSelector('#customers-table tbody tr a.failing-link');
  await page.locator('#customers-table tbody tr').first().locator('a.failing-link').click();
  await page.waitForURL(/#\/search\?.*failing=true/);
  await searchShows('failing=true');
  check(await page.isChecked('#f-failing'), 'the failing search does not have "failing traces only" checked');
  check(await page.inputValue('#f-attrs') === filter, 'the failing search is not filtered to the customer');
  const failing = await page.locator('#results tbody tr').count();
  const failingMarked = await page.locator('#results tbody tr.has-error').count();
  check(failing > 0 && failing === failingMarked, `${failingMarked} of the ${failing} traces found are marked failing`);
  await shot('3-failing');

  // 4. Slower than 1 ms: nearly every request is slow, so affected is more than failed.
  const slowApi = await apiGet(`/api/customers?${range}&slower_than=1ms&${ns}`);
  await openCustomers(`${range}&slower_than=1ms`);
  await page.waitForSelector('#customers-table th >> text=Slower than 1ms');
  const slowRows = await tableRows();
  check(slowRows.map((r) => r.customer).join('|') === slowApi.customers.map((c) => c.customer).join('|'),
    `with slower_than the page ranks ${slowRows.map((r) => r.customer).join(', ')}, the API ${slowApi.customers.map((c) => c.customer).join(', ')}`);
  slowRows.forEach((row, i) => {
    check(count(row.cells['Slower than 1ms']) === slowApi.customers[i].slow,
      `${row.customer} shows ${row.cells['Slower than 1ms']} slow requests, the API ${slowApi.customers[i].slow}`);
  });
  check(await page.inputValue('#f-slower') === '1ms', 'the "slower than" field does not show 1ms');
  await noErrorBox('the slow requests');
  await shot('4-slower-than');

  // 5. Another namespace: nothing of this shop.
  await openCustomers(range, 'someone-else');
  const empty = await page.locator('#customers .empty').innerText();
  check(empty.includes('No request in namespace \u201csomeone-else\u201d'), `another namespace's view reads: ${empty}`);
  check(await page.locator('#customers-table').count() === 0, 'another namespace shows a table');
  await shot('5-other-namespace');

  // 6. A "slower than" the API refuses: the error names it, the field is marked.
  expectRefusal = true;
  await openCustomers(`${range}&slower_than=fast`);
  await page.waitForSelector('.error-box');
  const refusal = await page.locator('.error-box').innerText();
  check(refusal.includes('slower_than') && refusal.includes('150ms'), `the refusal reads: ${refusal}`);
  check(await page.getAttribute('#f-slower', 'aria-invalid') === 'true', 'the "slower than" field is not marked invalid');
  await shot('6-bad-input');
  expectRefusal = false;

  checkNoProblems(problems);
  console.log(JSON.stringify({
    ok: true,
    first: rows[0].customer,
    customers: rows.map((r) => `${r.customer}: ${r.cells.Requests} requests, ${r.cells.Failed} failed`),
    search: found,
    failing,
  }));
} catch (error) {
  reportFailure('customers view check', error, problems);
} finally {
  await browser.close();
}
