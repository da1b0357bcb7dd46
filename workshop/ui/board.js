// tracedojo progress board: the page for the room's screen. Plain JavaScript, no framework and
// no build step; it reads only GET /api/board.
//
// Safety rule for the whole file: names and titles come from participants' reports, so they
// reach the page only through el() below, which writes text with textContent. Nothing here
// builds markup from strings, and the server's content security policy forbids inline script.
//
// The token comes from the URL's fragment (#token=...), which the browser never sends to the
// server with the page request; it goes only in the Authorization header of API calls.

'use strict';

const REFRESH_MS = 2500;
// Stuck this long, a row turns warm even when it is not the longest.
const LONG_MS = 10 * 60 * 1000;

const TEXT = {
  en: {
    heading: 'Progress board',
    connecting: 'connecting…',
    participant: 'Participant',
    lesson: 'Lesson',
    stuck: 'Stuck for',
    passed: 'Passed',
    wrong: 'Wrong checks',
    hints: 'Hints',
    seen: 'Last seen',
    join: 'Join: add',
    joinTail: 'to workshop start, check and hint',
    longest: 'stuck longest',
    done: '✓ passed',
    ago: (s) => (s < 60 ? `${s} s ago` : `${Math.floor(s / 60)} min ago`),
    status: (n, time) => `${n} participant${n === 1 ? '' : 's'} · updated ${time}`,
    empty: 'No reports yet. Participants opt in by adding the line above to their workshop commands.',
    unreachable: 'The board does not answer; retrying…',
    token: 'This page needs the board\u2019s token: open the address `tracedojo workshop board` printed, the one ending in #token=…',
    refused: (status, message) => `The board answered ${status}: ${message}`,
  },
  ja: {
    heading: '進捗ボード',
    connecting: '接続中…',
    participant: '参加者',
    lesson: 'レッスン',
    stuck: '停滞時間',
    passed: '完了数',
    wrong: '不正解数',
    hints: 'ヒント数',
    seen: '最終報告',
    join: '参加するには',
    joinTail: 'を workshop start / check / hint に付けてください',
    longest: 'いちばん長く止まっています',
    done: '✓ 完了',
    ago: (s) => (s < 60 ? `${s} 秒前` : `${Math.floor(s / 60)} 分前`),
    status: (n, time) => `参加者 ${n} 人・${time} 更新`,
    empty: 'まだ報告はありません。報告は任意で、参加者が上の行をワークショップのコマンドに付けると、ここに表示されます。',
    unreachable: 'ボードから応答がありません。再試行しています…',
    token: 'このページにはボードのトークンが必要です。`tracedojo workshop board` が表示した、#token=… で終わるアドレスを開いてください。',
    refused: (status, message) => `ボードが ${status} を返しました: ${message}`,
  },
};

function chooseLang() {
  const asked = new URLSearchParams(location.search).get('lang');
  if (asked === 'ja' || asked === 'en') return asked;
  return (navigator.language || '').toLowerCase().startsWith('ja') ? 'ja' : 'en';
}

const LANG = chooseLang();
const T = TEXT[LANG];
const TOKEN = new URLSearchParams(location.hash.slice(1)).get('token') || '';

/** An HTML element; strings among the children become text nodes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function $(id) {
  return document.getElementById(id);
}

/** m:ss, or h:mm:ss from an hour on: readable from the back of the room in any language. */
function duration(ms) {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function clock(unixMs) {
  return new Date(unixMs).toLocaleTimeString(LANG === 'ja' ? 'ja-JP' : 'en-GB', { hour12: false });
}

function notice(text) {
  const box = $('notice');
  box.textContent = text || '';
  box.hidden = !text;
}

function title(row) {
  const known = row.titles && row.titles[LANG];
  return known || row.title || '';
}

function renderRow(row, index, now) {
  const longest = index === 0 && row.stuck_for_ms !== null;
  const long = row.stuck_for_ms !== null && row.stuck_for_ms >= LONG_MS;
  const seen = Math.max(0, Math.floor((now - row.last_seen_unix_ms) / 1000));
  return el('tr', {
    class: ['row', longest && 'longest', long && 'long', row.lesson_passed && 'done'],
    'data-participant': row.participant,
    'data-lesson': row.lesson,
  },
  el('td', { class: 'rank' }, String(index + 1)),
  el('td', { class: 'name' },
    el('span', { class: 'who' }, row.participant),
    longest ? el('span', { class: 'badge' }, T.longest) : null),
  el('td', { class: 'lesson' },
    el('span', { class: 'number' }, String(row.lesson)),
    el('span', { class: 'title' }, title(row))),
  el('td', { class: 'stuck' }, row.stuck_for_ms === null ? T.done : duration(row.stuck_for_ms)),
  el('td', { class: 'count' }, String(row.lessons_passed)),
  el('td', { class: ['count', row.wrong_checks > 0 && 'warn'] }, String(row.wrong_checks)),
  el('td', { class: 'count' }, String(row.hints)),
  el('td', { class: 'seen' }, T.ago(seen)));
}

function render(body) {
  const rows = Array.isArray(body.participants) ? body.participants : [];
  const now = body.now_unix_ms;
  $('rows').replaceChildren(...rows.map((row, index) => renderRow(row, index, now)));
  $('board').hidden = rows.length === 0;
  const empty = $('empty');
  empty.textContent = T.empty;
  empty.hidden = rows.length > 0;
  $('join').replaceChildren(
    el('span', { class: 'label' }, T.join),
    ' ',
    el('code', { class: 'command' }, `--board ${body.join_url} --board-code `),
    el('code', { class: 'code', id: 'code' }, body.code),
    ' ',
    el('span', { class: 'label' }, T.joinTail));
  $('status').textContent = T.status(rows.length, clock(now));
  document.body.dataset.updated = String(now);
  document.body.dataset.count = String(rows.length);
}

async function refresh() {
  let response;
  try {
    response = await fetch('/api/board', {
      headers: TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {},
      cache: 'no-store',
    });
  } catch {
    notice(T.unreachable);
    return true;
  }
  if (response.status === 401) {
    // Asking again every few seconds would not help: only a new address does.
    notice(T.token);
    $('status').textContent = '';
    return false;
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok || !body) {
    notice(T.refused(response.status, (body && body.error) || response.statusText));
    return true;
  }
  notice('');
  render(body);
  return true;
}

async function loop() {
  if (await refresh()) setTimeout(loop, REFRESH_MS);
}

// A token pasted into the address bar changes only the fragment, which loads nothing by itself.
window.addEventListener('hashchange', () => location.reload());
document.documentElement.lang = LANG;
document.title = `tracedojo · ${T.heading}`;
for (const node of document.querySelectorAll('[data-i18n]')) {
  node.textContent = T[node.dataset.i18n];
}
$('board').hidden = true;
loop();
