// Looks at the facilitator's progress board in Debian's headless Chromium as the room would,
// and compares it with what GET /api/board answers. Saves a screenshot of every state.
// Usage: node board.mjs BOARD_URL TOKEN CODE ARTIFACT_DIR
// Expects three participants on the board, at different lessons, none of whom has passed the
// lesson they are on. Exits 0 when every check passed (printing one JSON line); otherwise says
// what failed and exits 1.
import { check, checkNoProblems, collectDialogs, collectProblems, launchChromium, reportFailure, screenshot } from './lib.mjs';
import { mkdirSync } from 'node:fs';

const [boardUrl, token, code, artifacts] = process.argv.slice(2);
if (!boardUrl || !token || !code || !artifacts) {
  console.error('usage: node board.mjs BOARD_URL TOKEN CODE ARTIFACT_DIR');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const MARKUP = '<img src=x onerror=alert(1)>';
// The page asks every 2.5 s; a few rounds are plenty.
const SHOWN = 15000;

async function boardNow() {
  const response = await fetch(`${boardUrl}/api/board`, { headers: { Authorization: `Bearer ${token}` } });
  const body = await response.json();
  check(response.ok, `GET /api/board answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

/** The rows the page shows, top to bottom. */
function shownRows(page) {
  return page.$$eval('#rows tr', (rows) => rows.map((row) => ({
    participant: row.dataset.participant,
    lesson: Number(row.dataset.lesson),
    longest: row.classList.contains('longest'),
    badge: row.querySelector('.badge')?.textContent ?? null,
    who: row.querySelector('.who').textContent,
    number: row.querySelector('.lesson .number').textContent,
    title: row.querySelector('.lesson .title').textContent,
    stuck: row.querySelector('td.stuck').textContent,
  })));
}

const browser = await launchChromium();
const problems = [];
try {
  // A projector's shape, at a size where the type must still be large.
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  const dialogs = [];
  collectDialogs(page, dialogs);
  collectProblems(page, problems);
  const shot = (name) => screenshot(page, artifacts, name);
  const rowsShown = (count) => page.waitForFunction(
    (n) => document.querySelectorAll('#rows tr').length === n, count, { timeout: SHOWN });

  // English: the three participants, the longest stuck first and highlighted.
  await page.goto(`${boardUrl}/#token=${encodeURIComponent(token)}`);
  await rowsShown(3);
  const api = await boardNow();
  const rows = await shownRows(page);
  const expected = api.participants.map((p) => ({ participant: p.participant, lesson: p.lesson }));
  check(JSON.stringify(rows.map(({ participant, lesson }) => ({ participant, lesson }))) === JSON.stringify(expected),
    `the page shows ${JSON.stringify(rows)}, the API ${JSON.stringify(expected)}`);
  check(new Set(rows.map((r) => r.lesson)).size === 3, `three different lessons: ${JSON.stringify(rows)}`);
  check(rows.every((r) => r.who === r.participant && r.number === String(r.lesson)), `names and lessons as text: ${JSON.stringify(rows)}`);
  check(rows.every((r) => r.title.length > 0), `every lesson has its title: ${JSON.stringify(rows)}`);
  check(rows.every((r) => /^\d+:\d\d$/.test(r.stuck)), `stuck times read m:ss: ${JSON.stringify(rows)}`);
  check(rows[0].longest && rows[0].badge === 'stuck longest', `the first row is not highlighted: ${JSON.stringify(rows[0])}`);
  check(rows.slice(1).every((r) => !r.longest && r.badge === null), `only the first row is highlighted: ${JSON.stringify(rows)}`);
  const stuck = api.participants.map((p) => p.stuck_for_ms);
  check(stuck.every((ms, i) => i === 0 || stuck[i - 1] >= ms), `the API is not longest-stuck first: ${stuck}`);
  const look = await page.evaluate(() => {
    const first = document.querySelector('#rows tr.longest td');
    const other = document.querySelector('#rows tr:not(.longest) td');
    return {
      rowFont: parseFloat(getComputedStyle(document.querySelector('#rows tr td.name')).fontSize),
      highlighted: getComputedStyle(first).backgroundColor !== getComputedStyle(other).backgroundColor,
      code: document.getElementById('code').textContent,
      join: document.getElementById('join').textContent,
      heading: document.querySelector('h1').textContent.trim(),
    };
  });
  check(look.rowFont >= 24, `names are too small to read across a room: ${look.rowFont}px`);
  check(look.highlighted, 'the longest-stuck row looks like the others');
  check(look.code === code, `the join code shown is ${look.code}`);
  check(look.join.includes(`--board ${api.join_url} --board-code ${code}`), `the join line: ${look.join}`);
  check(look.heading === 'Progress board', `the heading: ${look.heading}`);
  await shot('1-board-en');

  // It refreshes itself: the stuck time of the first row grows without a reload.
  const before = (await shownRows(page))[0].stuck;
  await page.waitForFunction((b) => document.querySelector('#rows tr td.stuck').textContent !== b, before, { timeout: SHOWN });

  // Japanese: the page's words and the lessons' titles.
  await page.goto(`${boardUrl}/?lang=ja#token=${encodeURIComponent(token)}`);
  await rowsShown(3);
  const ja = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    heading: document.querySelector('h1').textContent.trim(),
    badge: document.querySelector('#rows tr.longest .badge')?.textContent,
    column: document.querySelector('th[data-i18n="stuck"]').textContent,
  }));
  const jaRows = await shownRows(page);
  check(ja.lang === 'ja' && ja.heading === '進捗ボード' && ja.column === '停滞時間', `the Japanese page: ${JSON.stringify(ja)}`);
  check(ja.badge === 'いちばん長く止まっています', `the Japanese badge: ${ja.badge}`);
  for (const row of jaRows) {
    const titles = api.participants.find((p) => p.participant === row.participant).titles;
    check(titles && row.title === titles.ja, `${row.participant}'s title in Japanese: ${row.title} (${JSON.stringify(titles)})`);
  }
  await shot('2-board-ja');

  // A name holding markup (posted straight to the API, as anyone with the code could) is text.
  const posted = await fetch(`${boardUrl}/api/board/reports`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code, participant: MARKUP, lesson: 1, title: MARKUP, event: 'started', at_unix_ms: Date.now() }),
  });
  check(posted.ok, `the markup report was refused: ${posted.status}`);
  await page.goto(`${boardUrl}/#token=${encodeURIComponent(token)}`);
  await rowsShown(4);
  const escaped = await page.evaluate((markup) => ({
    shown: [...document.querySelectorAll('#rows .who')].some((n) => n.textContent === markup),
    images: document.querySelectorAll('#rows img').length,
  }), MARKUP);
  check(escaped.shown && escaped.images === 0, `the markup name: ${JSON.stringify(escaped)}`);
  await shot('3-escaped');

  // A wrong token: the page says what to open instead, and shows nothing of the board. (A
  // new page: going to the same address with another fragment would not load it again.)
  const wrong = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  // The browser logs the 401 the test asks for; anything else is a problem.
  collectProblems(wrong, problems, (text) => /status of 401/.test(text));
  collectDialogs(wrong, dialogs);
  await wrong.goto(`${boardUrl}/#token=not-the-token-at-all`);
  await wrong.waitForFunction(() => !document.getElementById('notice').hidden, null, { timeout: SHOWN });
  const refused = await wrong.evaluate(() => ({
    notice: document.getElementById('notice').textContent,
    rows: document.querySelectorAll('#rows tr').length,
  }));
  check(refused.rows === 0 && refused.notice.includes('#token='), `the wrong token's page: ${JSON.stringify(refused)}`);
  await screenshot(wrong, artifacts, '4-wrong-token');

  check(dialogs.length === 0, `a script ran from a report: ${dialogs.join(', ')}`);
  checkNoProblems(problems);
  console.log(JSON.stringify({ ok: true, rows, ja: ja.heading, escaped }));
} catch (error) {
  reportFailure('progress board browser check', error, problems);
} finally {
  await browser.close();
}
