// Opens a failing trace in the explorer in Debian's headless Chromium, presses Explain and
// compares the panel with what /api/traces/ID/explain answers: the English sentences, then
// the Japanese ones after choosing 日本語 (and from the start in a browser set to Japanese),
// Copy putting the text on the clipboard, and the links selecting the first failing span and
// the largest span of the critical path in the waterfall. Last, a trace whose span name and
// exception hold markup: the panel shows it as text. Saves screenshots.
// Usage: node explain.mjs UI_URL ARTIFACT_DIR FAILING_TRACE_ID MARKUP_TRACE_ID
// Exits 0 when every check passed (printing one JSON line); otherwise says what failed, exits 1.
import { check, checkNoErrorBox, checkNoProblems, collectProblems, jsonApi, launchChromium, reportFailure, screenshot } from './lib.mjs';
import { mkdirSync } from 'node:fs';

const [uiUrl, artifacts, traceId, markupTraceId] = process.argv.slice(2);
if (!uiUrl || !artifacts || !traceId || !markupTraceId) {
  console.error('usage: node explain.mjs UI_URL ARTIFACT_DIR FAILING_TRACE_ID MARKUP_TRACE_ID');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const apiGet = jsonApi(uiUrl);

const explanation = (id, lang) => apiGet(`/api/traces/${id}/explain?lang=${lang}`);

const browser = await launchChromium();
const problems = [];

/** A page in a browser set to `locale`, reporting its errors into `problems`. */
async function openPage(locale) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: uiUrl });
  const page = await context.newPage();
  collectProblems(page, problems);
  return page;
}

/** Opens the trace and presses Explain from the keyboard; returns once sentences show in `lang`. */
async function explainTrace(page, id, lang) {
  await page.goto(`${uiUrl}/#/trace/${id}`);
  await page.waitForSelector('#waterfall tbody tr.span-row');
  check(await page.locator('#explain-panel').isHidden(), 'the explanation shows before Explain is pressed');
  await page.locator('#explain-button').focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector(`#explain-text[lang="${lang}"] p`);
  check(await page.locator('#explain-button').getAttribute('aria-expanded') === 'true', 'the Explain button does not say the panel is open');
}

const shown = (page) => page.locator('#explain-text p').allInnerTexts();

function sameSentences(got, want, what) {
  check(JSON.stringify(got) === JSON.stringify(want),
    `${what}: the panel shows\n${got.join('\n')}\nthe API says\n${want.join('\n')}`);
}

async function selectedSpan(page) {
  return page.locator('tr.span-row.selected').getAttribute('data-span-id');
}

try {
  const en = await explanation(traceId, 'en');
  const ja = await explanation(traceId, 'ja');
  check(en.first_failure, `the trace has no failure to link to: ${JSON.stringify(en)}`);
  const shot = (page, name) => screenshot(page, artifacts, name);

  // An English browser: English first, then 日本語.
  const page = await openPage('en-US');
  await explainTrace(page, traceId, 'en');
  check(await page.locator('input[name="explain-lang"][value="en"]').isChecked(), 'English is not chosen in an English browser');
  sameSentences(await shown(page), en.summary, 'English');
  await checkNoErrorBox(page, 'the page');
  await shot(page, '1-explained-en');

  await page.locator('input[name="explain-lang"][value="ja"]').check();
  await page.waitForSelector('#explain-text[lang="ja"] p');
  sameSentences(await shown(page), ja.summary, '日本語');
  const failureLink = page.locator('#explain-failure-link');
  check((await failureLink.innerText()).includes(ja.first_failure.operation), 'the failure link does not name the failing span');
  await shot(page, '2-explained-ja');

  await page.locator('#explain-copy').click();
  await page.waitForFunction(() => document.querySelector('.explain-tools [role="status"]')?.textContent.length > 0);
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  check(ja.summary.every((s) => copied.includes(s)), `the clipboard lacks the Japanese sentences: ${copied}`);
  check(copied.includes(`#/trace/${traceId}`), `the clipboard lacks the trace's address: ${copied}`);

  // The links select their spans in the waterfall, from the keyboard too.
  await failureLink.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.querySelector('tr.span-row.selected')?.dataset.spanId === id, ja.first_failure.span_id);
  const details = await page.locator('#span-details').innerText();
  check(details.includes(ja.first_failure.operation) && details.includes(ja.first_failure.service),
    `the span details do not show ${ja.first_failure.service} ${ja.first_failure.operation}: ${details}`);
  check(page.url().includes(`span=${ja.first_failure.span_id}`), `the address does not name the selected span: ${page.url()}`);
  await shot(page, '3-failure-selected');
  const top = ja.critical_path.spans[0];
  await page.locator('#explain-top-link').click();
  await page.waitForFunction((id) => document.querySelector('tr.span-row.selected')?.dataset.spanId === id, top.span_id);
  const selected = await selectedSpan(page);

  // A Japanese browser starts in Japanese.
  const japanese = await openPage('ja-JP');
  await explainTrace(japanese, traceId, 'ja');
  check(await japanese.locator('input[name="explain-lang"][value="ja"]').isChecked(), '日本語 is not chosen in a Japanese browser');
  sameSentences(await shown(japanese), ja.summary, 'a Japanese browser');
  await shot(japanese, '4-japanese-browser');

  // Markup in a span's name and exception is text.
  const markup = await explanation(markupTraceId, 'en');
  await explainTrace(page, markupTraceId, 'en');
  sameSentences(await shown(page), markup.summary, 'the markup trace');
  const text = (await shown(page)).join('\n');
  check(text.includes('GET /<img src=x onerror=alert(1)>') && text.includes('<script>alert("x")</script>'),
    `the markup is not shown as text: ${text}`);
  const injected = await page.locator('#explain-panel img, #explain-panel script, #explain-panel b').count();
  check(injected === 0, `the panel holds ${injected} elements made from span text`);
  await shot(page, '5-escaped');

  checkNoProblems(problems);
  console.log(JSON.stringify({ ok: true, trace_id: traceId, first_failure: ja.first_failure.span_id, top_span: selected, en: en.summary, ja: ja.summary }));
} catch (error) {
  reportFailure('explain check', error, problems);
} finally {
  await browser.close();
}
