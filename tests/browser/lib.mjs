// What the browser checks share: Debian's headless Chromium launched the same way for all,
// `check`, the problems a page reports by itself (script and console errors, dialogs), reads
// of a JSON API, screenshots, and how a failed check is told.
import { chromium } from 'playwright-core';

/** Fails the check with `message` unless `condition` holds. */
export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Debian's Chromium (or the one `CHROMIUM` names), headless, without a sandbox or GPU, and
 * without background requests of its own. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A function that GETs a path of the JSON API at `baseUrl`, which must answer 2xx, and
 * returns the body. */
export function jsonApi(baseUrl) {
  return async (path) => {
    const response = await fetch(`${baseUrl}${path}`);
    const body = await response.json();
    check(response.ok, `GET ${path} answered ${response.status}: ${JSON.stringify(body)}`);
    return body;
  };
}

/** Notes the page's script errors and console errors in `problems` (a refused style or
 * script, a failed request), except the console errors `expected(text)` says the script
 * caused on purpose. */
export function collectProblems(page, problems, expected = () => false) {
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error' || expected(message.text())) return;
    problems.push(`console error: ${message.text()}`);
  });
}

/** Dismisses every dialog the page opens, noting its message in `dialogs`: one opened by
 * script made from data is a failure. */
export function collectDialogs(page, dialogs) {
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
}

/** Checks that no page reported a problem. */
export function checkNoProblems(problems) {
  check(problems.length === 0, `the page reported: ${problems.join(' | ')}`);
}

/** Checks that the explorer's page shows no error box, `where` naming the view. */
export async function checkNoErrorBox(page, where) {
  const boxes = await page.locator('.error-box').allInnerTexts();
  check(boxes.length === 0, `${where} shows an error: ${boxes.join(' | ')}`);
}

/** Saves a screenshot of the whole of `page` as `dir/name.png`. */
export function screenshot(page, dir, name) {
  return page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

/** Says that the check `what` failed, and what the pages reported besides; exits 1 once the
 * script ends. */
export function reportFailure(what, error, problems = []) {
  console.error(`${what} failed: ${error.message}`);
  if (problems.length) console.error(`the page also reported: ${problems.join(' | ')}`);
  process.exitCode = 1;
}
