// Looks at the showcase's kiosk page in Debian's headless Chromium at 1920×1080, as a booth
// screen would, while a scenario plays. For every act, in Japanese and then in English, it
// compares the page with what GET /api/now answers: the caption, the countdown, the service
// lit on the map and the auto-picked trace (of this act, its highlighted span drawn). It
// presses the presenter's keys (pause, next, previous, language, talk track) and checks their
// effect, then stops the showcase and starts it again on the same port and checks that the
// page says it is reconnecting and then carries on by itself. Saves a screenshot of each act.
//
// Usage: node kiosk.mjs ARTIFACT_DIR TRACEDOJO_BINARY ARG...   (the showcase's arguments; they
// must include --kiosk-listen 127.0.0.1:PORT)
// Exits 0 when every check passed (printing one JSON line); otherwise says what failed, exits 1.
import { check, launchChromium } from './lib.mjs';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const [artifacts, binary, ...args] = process.argv.slice(2);
if (!artifacts || !binary || !args.includes('--kiosk-listen')) {
  console.error('usage: node kiosk.mjs ARTIFACT_DIR TRACEDOJO_BINARY ARG... (with --kiosk-listen)');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const listen = args[args.indexOf('--kiosk-listen') + 1];
const kioskUrl = `http://${listen}`;
// Long enough for the shop to start and for an act's first traces to arrive and settle, on a
// machine busy with other tests too (a minute was once not enough for an act's pick).
const WAIT = 120000;

/** Starts the showcase; resolves once it prints the kiosk's address. */
function startShowcase() {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no kiosk line within ${WAIT} ms:\n${out}`)), WAIT);
    const read = (chunk) => {
      out += chunk.toString();
      if (out.includes('kiosk: http://')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', (chunk) => { out += chunk.toString(); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`showcase exited ${code}:\n${out}`)); });
  });
}

/** Stops it as Ctrl-C would; resolves with its exit code. */
function stopShowcase(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode);
      return;
    }
    child.removeAllListeners('exit');
    child.on('exit', (code) => resolve(code));
    child.kill('SIGINT');
  });
}

async function now() {
  const response = await fetch(`${kioskUrl}/api/now`);
  check(response.ok, `GET /api/now answered ${response.status}`);
  return response.json();
}

async function key(page, name) {
  await page.keyboard.press(name);
}

function clock(ms) {
  const s = Math.ceil(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Waits until the page shows act `index`, paused, with a trace picked for it; then checks
 * the page against the API and saves a screenshot. */
async function checkAct(page, index, lang, shots) {
  await page.waitForFunction((i) => document.body.dataset.act === String(i), index, { timeout: WAIT });
  if ((await page.evaluate(() => document.body.dataset.paused)) !== 'true') {
    await key(page, 'Space');
  }
  await page.waitForFunction(() => document.body.dataset.paused === 'true', null, { timeout: WAIT });
  await page.waitForFunction(
    (i) => {
      const w = document.getElementById('waterfall');
      return w.dataset.act === String(i) && w.dataset.traceId && w.querySelector('.row.highlight');
    },
    index,
    { timeout: WAIT },
  );
  const api = await now();
  const act = api.scenario.acts[index];
  check(api.playing.act === index && api.playing.paused, `API: act ${api.playing.act}, paused ${api.playing.paused}`);
  const shown = await page.evaluate(() => ({
    caption: document.getElementById('caption').textContent,
    countdown: document.getElementById('countdown').textContent,
    lit: [...document.querySelectorAll('#map .node.lit')].map((n) => n.dataset.service),
    tileLit: [...document.querySelectorAll('#services .tile.lit')].map((n) => n.dataset.service),
    trace: document.getElementById('waterfall').dataset.traceId,
    highlight: document.querySelector('#waterfall .row.highlight')?.dataset.spanId,
    rows: document.querySelectorAll('#waterfall .row').length,
    nodes: document.querySelectorAll('#map .node').length,
    tiles: document.querySelectorAll('#services .tile').length,
    // Each tile's p95 history, drawn by the kit's chart script: a line once two reads have it.
    sparklines: document.querySelectorAll('#services .tile svg.td-chart path.td-chart-line').length,
    lang: document.documentElement.lang,
  }));
  check(shown.lang === lang, `act ${index}: page language ${shown.lang}, wanted ${lang}`);
  check(shown.caption === act[lang].caption, `act ${index}: caption ${JSON.stringify(shown.caption)}, wanted ${JSON.stringify(act[lang].caption)}`);
  check(shown.countdown === clock(api.playing.remaining_ms), `act ${index}: countdown ${shown.countdown} while paused with ${api.playing.remaining_ms} ms left`);
  check(shown.nodes >= 5, `act ${index}: the map has ${shown.nodes} services`);
  check(shown.tiles >= 5 && shown.sparklines >= shown.tiles - 1, `act ${index}: ${shown.sparklines} sparklines drawn on ${shown.tiles} tiles`);
  check(shown.lit.length === 1 && shown.lit[0] === act.look.service, `act ${index}: map lights ${shown.lit}, the act looks at ${act.look.service}`);
  check(shown.tileLit.length <= 1 && (shown.tileLit.length === 0 || shown.tileLit[0] === act.look.service), `act ${index}: tiles lit ${shown.tileLit}`);
  const trace = api.lens.trace;
  check(trace && trace.act === index && trace.loop_number === api.playing.loop_number, `act ${index}: the API's trace is of act ${trace && trace.act}`);
  check(shown.trace === trace.trace_id, `act ${index}: page shows trace ${shown.trace}, the API picked ${trace.trace_id}`);
  check(shown.highlight === trace.highlight, `act ${index}: highlighted ${shown.highlight}, the API says ${trace.highlight}`);
  check(shown.rows === trace.rows.length && shown.rows > 1, `act ${index}: ${shown.rows} rows drawn of ${trace.rows.length}`);
  const look = act.look;
  const file = `${artifacts}/${lang}-act-${index + 1}-${act.name}.png`;
  await page.screenshot({ path: file });
  shots.push(file);
  return { act: act.name, look: look.service, trace: trace.trace_id, highlight_reason: trace.highlight_reason, rows: shown.rows };
}

let showcase = await startShowcase();
const browser = await launchChromium();
const results = { ok: false, acts: [], screenshots: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(`${kioskUrl}/`);
  await page.waitForFunction(() => document.body.dataset.connected === 'true', null, { timeout: WAIT });
  const first = await now();
  const acts = first.scenario.acts.length;
  check(first.lang === 'ja', `the showcase was started in ja, the API says ${first.lang}`);

  // Japanese: every act, reached by waiting (the first) and then by the → key.
  await page.waitForFunction(() => document.body.dataset.loop === '1', null, { timeout: WAIT });
  const startAct = Number(await page.evaluate(() => document.body.dataset.act));
  for (let i = 0; i < acts; i++) {
    const index = (startAct + i) % acts;
    results.acts.push({ lang: 'ja', ...(await checkAct(page, index, 'ja', results.screenshots)) });
    // While paused, the countdown stands still: the API's figure one and a half seconds on.
    const before = (await now()).playing.remaining_ms;
    await page.waitForTimeout(1500);
    const after = await now();
    check(after.playing.paused && after.playing.remaining_ms === before, `paused, yet the countdown went ${before} → ${after.playing.remaining_ms}`);
    await key(page, 'ArrowRight');
  }

  // ← goes back an act; L switches to English; T shows the talk track.
  const beforeBack = (await now()).playing.act;
  await key(page, 'ArrowLeft');
  await page.waitForFunction((a) => document.body.dataset.act === String(a), (beforeBack + acts - 1) % acts, { timeout: WAIT });
  await key(page, 'KeyL');
  await page.waitForFunction(() => document.documentElement.lang === 'en', null, { timeout: WAIT });
  await key(page, 'KeyT');
  const talk = await page.evaluate(() => ({
    hidden: document.getElementById('talk').hidden,
    text: document.getElementById('talk-text').textContent,
    act: Number(document.body.dataset.act),
  }));
  const scenario = (await now()).scenario;
  check(!talk.hidden && talk.text === scenario.acts[talk.act].en.talk, `talk track: hidden ${talk.hidden}, text ${JSON.stringify(talk.text.slice(0, 60))}`);
  await page.screenshot({ path: `${artifacts}/en-talk-track.png` });
  results.screenshots.push(`${artifacts}/en-talk-track.png`);
  await key(page, 'KeyT');

  // English: every act again.
  const enStart = Number(await page.evaluate(() => document.body.dataset.act));
  for (let i = 0; i < acts; i++) {
    const index = (enStart + i) % acts;
    results.acts.push({ lang: 'en', ...(await checkAct(page, index, 'en', results.screenshots)) });
    await key(page, 'ArrowRight');
  }

  // The server goes away: the page says so and keeps asking; it comes back: the page goes on.
  const code = await stopShowcase(showcase);
  check(code === 0, `the showcase exited ${code} on Ctrl-C`);
  await page.waitForFunction(() => document.body.dataset.connected === 'false' && !document.getElementById('offline').hidden, null, { timeout: WAIT });
  await page.screenshot({ path: `${artifacts}/reconnecting.png` });
  results.screenshots.push(`${artifacts}/reconnecting.png`);
  showcase = await startShowcase();
  await page.waitForFunction(() => document.body.dataset.connected === 'true' && document.getElementById('offline').hidden, null, { timeout: WAIT });
  await page.waitForFunction(() => document.body.dataset.loop === '1' && document.getElementById('caption').textContent.length > 0, null, { timeout: WAIT });
  const back = await now();
  const backCaption = await page.evaluate(() => document.getElementById('caption').textContent);
  // The language the presenter chose is the page's own, kept across the restart.
  check(backCaption === back.scenario.acts[back.playing.act].en.caption, `after the restart the page shows ${JSON.stringify(backCaption)}`);
  await page.screenshot({ path: `${artifacts}/reconnected.png` });
  results.screenshots.push(`${artifacts}/reconnected.png`);
  check(errors.length === 0, `errors on the page: ${errors.join('; ')}`);
  results.ok = true;
} catch (err) {
  console.error(String(err && err.stack || err));
} finally {
  await browser.close();
  await stopShowcase(showcase);
}
console.log(JSON.stringify(results));
process.exit(results.ok ? 0 : 1);
