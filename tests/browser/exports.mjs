// Looks at the explorer's header in Debian's headless Chromium for the badge of the backend
// the shop exports to, and compares it with what `/api/status` answers. Saves a screenshot.
// Usage: node exports.mjs UI_URL ARTIFACT_DIR MODE
//   MODE refused: nothing listens at the backend's address (the badge says so, in red);
//   MODE markup:  the backend answers with markup, shown as text in the badge's title;
//   MODE working: the backend takes the spans (the badge is green with a count).
// Exits 0 when every check passed (printing one JSON line); otherwise says what failed, exits 1.
import { check, checkNoProblems, collectDialogs, collectProblems, launchChromium, reportFailure, screenshot } from './lib.mjs';
import { mkdirSync } from 'node:fs';

const [uiUrl, artifacts, mode] = process.argv.slice(2);
const SHOTS = { refused: '1-refused', markup: '2-markup', working: '3-working' };
if (!uiUrl || !artifacts || !SHOTS[mode]) {
  console.error('usage: node exports.mjs UI_URL ARTIFACT_DIR refused|markup|working');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const MARKUP = '<img src=x onerror=alert(1)><b>no</b>';
// How long the page may take to show the state the test has already seen in the API (it
// asks for the status every 5 s while Live is on).
const SHOWN = 30000;

async function exportsNow() {
  const response = await fetch(`${uiUrl}/api/status`);
  const body = await response.json();
  check(response.ok, `GET /api/status answered ${response.status}: ${JSON.stringify(body)}`);
  check(Array.isArray(body.exports) && body.exports.length === 1, `/api/status has exports ${JSON.stringify(body.exports)}`);
  return body.exports[0];
}

const browser = await launchChromium();
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const dialogs = [];
  collectDialogs(page, dialogs);
  collectProblems(page, problems);

  await page.goto(`${uiUrl}/#/search`);
  await page.waitForFunction(() => /\d+ spans/.test(document.getElementById('status').textContent));
  check(await page.locator('#live').isChecked(), 'live refresh is on by default');

  // The badge in the state the API is in (the test saw it there before starting this).
  const wanted = {
    refused: { cls: 'bad', text: 'connection refused' },
    markup: { cls: 'bad', text: 'refused' },
    working: { cls: 'ok', text: 'backend \u2713' },
  }[mode];
  await page.waitForFunction(({ cls, text }) => {
    const badges = document.querySelectorAll('#exports .export');
    return badges.length === 1 && badges[0].classList.contains(cls) && badges[0].textContent.includes(text);
  }, wanted, { timeout: SHOWN }).catch(async () => {
    const shown = await page.$$eval('#exports .export', (spans) => spans.map((s) => `${s.className}: ${s.textContent}`));
    throw new Error(`no badge "export ${wanted.cls}" with "${wanted.text}" within ${SHOWN} ms; shown: ${JSON.stringify(shown)}`);
  });
  const badge = page.locator('#exports .export');
  const text = await badge.textContent();
  const title = await badge.getAttribute('title');
  const classes = await badge.getAttribute('class');
  const api = await exportsNow();
  check(await badge.isVisible(), 'the badge is not visible');
  check(title.includes(api.destination), `the title ${JSON.stringify(title)} does not name the destination ${api.destination}`);

  const result = { ok: true, mode, text, title, classes };
  if (mode === 'refused') {
    check(/^backend ✗ connection refused · [\d,]+ lost$/.test(text), `the badge reads ${JSON.stringify(text)}`);
    check(classes.split(/\s+/).includes('bad') && !classes.split(/\s+/).includes('ok'), `the badge's classes: ${classes}`);
    check(title.includes('connection refused: nothing listens at 127.0.0.1:9'), `the title lacks the failure in words: ${JSON.stringify(title)}`);
    check(title.includes(api.last_failure), `the title lacks the API's last failure ${JSON.stringify(api.last_failure)}: ${JSON.stringify(title)}`);
    check(Number(text.match(/· ([\d,]+) lost/)[1].replace(/,/g, '')) > 0, `no lost spans counted: ${text}`);
  } else if (mode === 'markup') {
    check(/^backend ✗ refused · [\d,]+ lost$/.test(text), `the badge reads ${JSON.stringify(text)}`);
    check(api.last_failure.includes(MARKUP), `the API's failure lacks the backend's answer: ${api.last_failure}`);
    check(title.includes(MARKUP), `the title does not show the markup verbatim: ${JSON.stringify(title)}`);
    const injected = await page.evaluate(() => ({
      elements: document.querySelectorAll('#exports *').length,
      images: document.querySelectorAll('img[src="x"]').length,
      bold: document.querySelectorAll('#exports b').length,
    }));
    check(injected.elements === 1, `the badge holds ${injected.elements - 1} elements made from the failure`);
    check(injected.images === 0 && injected.bold === 0, `elements were made from the backend's answer: ${JSON.stringify(injected)}`);
    result.injected = injected;
  } else {
    check(/^backend ✓ [\d,]+ sent( · [\d,]+ lost)?$/.test(text), `the badge reads ${JSON.stringify(text)}`);
    check(classes.split(/\s+/).includes('ok') && !classes.split(/\s+/).includes('bad'), `the badge's classes: ${classes}`);
    const sent = Number(text.match(/✓ ([\d,]+) sent/)[1].replace(/,/g, ''));
    check(sent > 0 && sent <= api.spans_sent, `the badge says ${sent} sent, the API ${api.spans_sent}`);
    check(api.failing === false, `the API says the exports fail: ${JSON.stringify(api)}`);
    result.sent = sent;
  }
  await screenshot(page, artifacts, SHOTS[mode]);

  check(dialogs.length === 0, `a script ran from a failure message: ${dialogs.join(', ')}`);
  checkNoProblems(problems);
  console.log(JSON.stringify(result));
} catch (error) {
  reportFailure('export health browser check', error, problems);
} finally {
  await browser.close();
}
