// tracedojo explorer: the web UI. Plain JavaScript, no framework and no build step; it reads
// only the explorer's JSON API (explorer/API.md).
//
// Safety rule for the whole file: a value that came from the API (span names, attributes,
// service names, messages) reaches the page only through el()/svg() below, which write text
// with textContent/createTextNode and attributes with setAttribute. Nothing here builds markup
// from strings, and the server's content security policy forbids inline script anyway.
//
// Layout of the file: shared helpers (DOM, formatting, API, tables, forms), then one function
// per page (searchView, traceView, mapView, redView, errorsView, customersView), then the
// header, the router and live refresh. The charts (the search's scatter, RED over time) are
// drawn by the kit's chart script, /assets/chart.js (window.TdChart), which the page loads
// first.

'use strict';

// ---------------------------------------------------------------- DOM helpers

const SVG_NS = 'http://www.w3.org/2000/svg';

function applyAttrs(node, attrs) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') {
      node.textContent = String(value);
    } else if (key === 'on') {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else if (key === 'style') {
      // CSSOM writes are allowed by `style-src 'self'`; a style attribute would not be.
      for (const [property, v] of Object.entries(value)) node.style.setProperty(property, String(v));
    } else if (key === 'class') {
      node.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (/^on/i.test(key)) {
      throw new Error(`refusing to set the event attribute ${key}; use on: {...}`);
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function appendChildren(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendChildren(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

/** An HTML element; strings among the children become text nodes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  applyAttrs(node, attrs);
  appendChildren(node, children);
  return node;
}

/** An SVG element, likewise. */
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  applyAttrs(node, attrs);
  appendChildren(node, children);
  return node;
}

/** Replaces a node's children (strings become text; null and false are skipped). */
function fill(node, ...children) {
  node.replaceChildren();
  appendChildren(node, children);
  return node;
}

function $(id) {
  return document.getElementById(id);
}

function hashLink(path, params) {
  const query = params ? params.toString() : '';
  return `#${path}${query ? `?${query}` : ''}`;
}

function navigate(path, params) {
  location.hash = hashLink(path, params);
}

function traceHref(traceId, spanId) {
  const params = new URLSearchParams();
  if (spanId) params.set('span', spanId);
  return hashLink(`/trace/${encodeURIComponent(traceId)}`, params);
}

function searchHref(fields) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) {
    for (const v of [].concat(value)) if (v !== undefined && v !== null && v !== '') params.append(key, v);
  }
  return hashLink('/search', params);
}

// ---------------------------------------------------------------- formatting

function isNum(n) {
  return typeof n === 'number' && Number.isFinite(n);
}

/** Milliseconds as a person reads them: 450 µs, 12.3 ms, 1.25 s, 2m 05s. */
function fmtMs(ms) {
  if (!isNum(ms)) return '–';
  if (ms === 0) return '0 ms';
  if (ms < 1) return `${(ms * 1000).toFixed(ms < 0.01 ? 1 : 0)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60000);
  const seconds = Math.floor((ms % 60000) / 1000);
  return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
}

function fmtNanos(nanos) {
  return isNum(nanos) ? fmtMs(nanos / 1e6) : '–';
}

/** A 0..1 ratio as a percentage. */
function fmtPct(ratio) {
  if (!isNum(ratio)) return '–';
  const pct = ratio * 100;
  if (pct === 0) return '0%';
  if (pct < 0.1) return `${pct.toFixed(2)}%`;
  if (pct < 10) return `${pct.toFixed(1)}%`;
  return `${pct.toFixed(0)}%`;
}

function fmtRate(perSecond) {
  if (!isNum(perSecond)) return '–';
  if (perSecond === 0) return '0';
  if (perSecond < 0.01) return perSecond.toFixed(3);
  if (perSecond < 10) return perSecond.toFixed(2);
  if (perSecond < 100) return perSecond.toFixed(1);
  return perSecond.toFixed(0);
}

function fmtCount(n) {
  return isNum(n) ? n.toLocaleString('en-US') : '–';
}

function fmtBytes(n) {
  if (!isNum(n)) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

const pad2 = (n) => String(n).padStart(2, '0');

/** Local wall-clock time of Unix nanoseconds, with milliseconds; the date only when not today. */
function fmtTime(nanos) {
  if (!isNum(nanos) || nanos <= 0) return '–';
  const d = new Date(nanos / 1e6);
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return time;
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${time}`;
}

/**
 * Unix milliseconds as the value of a datetime-local input: local wall-clock time, with
 * seconds and milliseconds only when they are not zero (the input's own normal form).
 */
function toLocalInput(ms) {
  const d = new Date(ms);
  if (!isNum(ms) || Number.isNaN(d.getTime()) || d.getFullYear() < 1 || d.getFullYear() > 275760) return '';
  let text = `${String(d.getFullYear()).padStart(4, '0')}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (d.getSeconds() || d.getMilliseconds()) text += `:${pad2(d.getSeconds())}`;
  if (d.getMilliseconds()) text += `.${String(d.getMilliseconds()).padStart(3, '0')}`;
  return text;
}

/** A datetime-local input's value (local wall-clock time) as Unix milliseconds; null when empty or malformed. */
function fromLocalInput(text) {
  const m = /^(\d{4,6})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(text || '');
  if (!m) return null;
  const d = new Date(2000, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] || 0), Number((m[7] || '0').padEnd(3, '0')));
  d.setFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3])); // years below 100 too
  const ms = d.getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** A duration such as `15m` or `1h` in milliseconds; null when it is not one. */
function durationMs(text) {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m|h|d)?$/.exec(String(text || '').trim());
  if (!m) return null;
  const unit = { us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 }[m[2] || 'ms'];
  return Number(m[1]) * unit;
}

function fmtAgo(nanos) {
  if (!isNum(nanos) || nanos <= 0) return '';
  const seconds = Math.max(0, (Date.now() - nanos / 1e6) / 1000);
  if (seconds < 60) return `${Math.floor(seconds)}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

/** An attribute value as text: strings as they are, anything else as JSON. */
function fmtValue(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** OpenTelemetry's severity numbers: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL. */
function severityName(number) {
  if (!isNum(number) || number <= 0) return '';
  return ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'][Math.min(5, Math.floor((number - 1) / 4))];
}

/** `err` for ERROR and FATAL records, `warn` for WARN ones. */
function severityClass(number) {
  if (number >= 17) return 'err';
  if (number >= 13) return 'warn';
  return null;
}

function shortId(id) {
  return typeof id === 'string' ? id.slice(0, 8) : '';
}

/** A stable hue per service name, so a service has the same colour on every page. */
function serviceHue(name) {
  let hash = 2166136261;
  for (const ch of String(name)) {
    hash ^= ch.codePointAt(0);
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  // Multiplying by the golden angle spreads similar hashes apart.
  return Math.round(((hash % 1000) * 137.508) % 360);
}

function serviceChip(name, extra) {
  return el('span', { class: 'chip svc', style: { '--hue': serviceHue(name) }, title: name },
    el('span', { class: 'chip-name', text: name || '(none)' }), extra || null);
}

/** An error rate, red when above zero. */
function errorRate(ratio, title) {
  return el('span', { class: ratio > 0 ? 'err' : null, title, text: fmtPct(ratio) });
}

/** "failing/total" in a muted voice, beside an error rate. */
function ofTotal(failing, total) {
  return el('span', { class: 'muted', text: ` ${fmtCount(failing)}/${fmtCount(total)}` });
}

function stat(label, value, cls) {
  return el('div', { class: ['stat', cls] }, el('div', { class: 'stat-value', text: value }),
    el('div', { class: 'stat-label', text: label }));
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(message, status, parameter) {
    super(message);
    this.status = status;
    this.parameter = parameter || null;
  }
}

/** The API paths that take `namespace`: every view's data, and the services for its lists. */
const NAMESPACED = new Set(['/api/traces', '/api/service-map', '/api/red', '/api/red/series', '/api/errors', '/api/services', '/api/customers']);

/**
 * GET an API path; resolves {body, text} or throws an ApiError carrying the API's message.
 * The page's namespace (see currentNamespace) is added here, once, for every path that takes
 * it, so no view can forget it.
 */
async function api(path, params) {
  const namespace = currentNamespace();
  if (namespace && NAMESPACED.has(path)) {
    params = new URLSearchParams(params || undefined);
    params.set('namespace', namespace);
  }
  const query = params ? params.toString() : '';
  const url = query ? `${path}?${query}` : path;
  let response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' });
  } catch (error) {
    throw new ApiError(`cannot reach the explorer at ${location.host} (${error.message})`, 0);
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body && typeof body.error === 'string'
      ? body.error
      : `${path} answered ${response.status} ${response.statusText}`.trim();
    throw new ApiError(message, response.status, body && typeof body.parameter === 'string' ? body.parameter : null);
  }
  if (body === null || typeof body !== 'object') {
    throw new ApiError(`${path} did not answer JSON`, response.status);
  }
  return { body, text };
}

function errorBox(error, hint) {
  const message = (error && error.message) || String(error);
  // Name the parameter unless the API's message already does.
  const where = error && error.parameter && !message.includes(error.parameter) ? `${error.parameter}: ` : '';
  return el('div', { class: 'error-box', role: 'alert' },
    where ? el('strong', { text: where }) : null, message, hint ? el('div', { class: 'hint', text: hint }) : null);
}

function emptyBox(message, hint) {
  return el('div', { class: 'empty' }, el('p', { text: message }), hint ? el('p', { class: 'hint', text: hint }) : null);
}

/**
 * Fetches and renders one region of a view. Answers that arrive after a newer request was
 * made (or after the page changed) are dropped; an answer identical to the last one leaves
 * the DOM alone, so live refresh keeps focus, scroll position and selection.
 */
function makeLoader(ctx, errorHost, fetcher, render) {
  let seq = 0;
  let lastText = null;
  return async function load(force) {
    const mine = ++seq;
    try {
      const { body, text } = await fetcher();
      if (!ctx.alive() || mine !== seq) return;
      fill(errorHost);
      markUpdated();
      if (!force && text === lastText) return;
      lastText = text;
      render(body);
    } catch (error) {
      if (!ctx.alive() || mine !== seq) return;
      if (!(error instanceof ApiError)) console.error(error);
      fill(errorHost, errorBox(error, hintFor(error)));
      if (error instanceof ApiError && error.status !== 0) {
        // The region was cleared: the next answer must be drawn even if it is the old one.
        lastText = null;
        render(null, error);
      }
    }
  };
}

function hintFor(error) {
  if (error instanceof ApiError && error.status === 404 && !/trace/i.test(error.message)) {
    return 'This explorer does not serve that part of the API (yet).';
  }
  if (error instanceof ApiError && error.status === 0) return 'Is `tracedojo explore` (or `tracedojo up`) still running?';
  return null;
}

// ---------------------------------------------------------------- tables and forms

/**
 * A table whose column headers sort it. columns: {key, label, num, value(row), cell(row),
 * cls, title}; `state` ({key, desc}) belongs to the caller so a live refresh keeps the order;
 * `options.rowAttrs(row)` gives a row's attributes (as el() takes them).
 * Returns a wrapper whose contents are replaced when the order changes.
 */
function dataTable(id, caption, columns, rows, state, options) {
  const wrap = el('div', { class: 'table-wrap' });
  const build = (focusKey) => {
    let sorted = rows.map((row, index) => ({ row, index }));
    const column = columns.find((c) => c.key === state.key);
    if (column && column.value) {
      const dir = state.desc ? -1 : 1;
      sorted.sort((a, b) => {
        const x = column.value(a.row);
        const y = column.value(b.row);
        if (x < y) return -dir;
        if (x > y) return dir;
        return a.index - b.index;
      });
    }
    sorted = sorted.map((s) => s.row);
    const head = el('tr', null, columns.map((c) => {
      const sortable = Boolean(c.value);
      const active = state.key === c.key;
      const th = el('th', {
        scope: 'col', class: [c.num && 'num', c.cls], title: c.title,
        'aria-sort': sortable ? (active ? (state.desc ? 'descending' : 'ascending') : 'none') : null,
      });
      if (!sortable) {
        th.append(c.label);
        return th;
      }
      th.append(el('button', {
        type: 'button', class: 'sort', 'data-key': c.key,
        on: {
          click: () => {
            if (state.key === c.key) state.desc = !state.desc;
            else Object.assign(state, { key: c.key, desc: Boolean(c.num) });
            build(c.key);
          },
        },
      }, c.label, el('span', { class: 'sort-mark', 'aria-hidden': 'true', text: active ? (state.desc ? ' ▾' : ' ▴') : '' })));
      return th;
    }));
    const rowAttrs = options && options.rowAttrs;
    const body = el('tbody', null, sorted.map((row) => el('tr', rowAttrs ? rowAttrs(row) : null,
      columns.map((c) => el('td', { class: [c.num && 'num', c.cls] }, c.cell(row))))));
    const table = el('table', { id, class: 'data' }, el('caption', { class: 'visually-hidden', text: caption }), el('thead', null, head), body);
    fill(wrap, table);
    if (focusKey) {
      const button = table.querySelector(`button.sort[data-key="${focusKey}"]`);
      if (button) button.focus();
    }
  };
  build(null);
  return wrap;
}

let fieldCounter = 0;

/** A labelled form field: returns {row, input}. */
function field(label, input, hint) {
  if (!input.id) input.id = `field-${++fieldCounter}`;
  const row = el('div', { class: 'field' }, el('label', { for: input.id, text: label }), input,
    hint ? el('div', { class: 'field-hint', text: hint }) : null);
  return { row, input };
}

/**
 * Fills a <select> with options ({value, label}) and selects `wanted`, adding it when the
 * list lacks it (a link may name a service that has no spans at the moment).
 */
function fillSelect(select, options, wanted, labelOfUnknown = (v) => `${v} (no spans now)`) {
  const values = new Set(options.map((o) => o.value));
  const all = wanted && !values.has(wanted) ? [...options, { value: wanted, label: labelOfUnknown(wanted) }] : options;
  fill(select, all.map((o) => el('option', { value: o.value, text: o.label })));
  select.value = wanted || (all[0] ? all[0].value : '');
}

const WINDOWS = ['1m', '5m', '15m', '1h', '6h', '1d'];

function windowSelect(current) {
  const select = el('select', { id: 'f-window' });
  const label = (w) => `last ${w}`;
  fillSelect(select, WINDOWS.map((w) => ({ value: w, label: label(w) })), current || '15m', label);
  return select;
}

/** Services from the API for service selects; an error leaves them with just "all". */
async function fetchServices() {
  try {
    const { body } = await api('/api/services');
    return Array.isArray(body.services) ? body.services : [];
  } catch {
    return [];
  }
}

function serviceOptions(services, allLabel) {
  return [{ value: '', label: allLabel }, ...services.map((s) => ({ value: s.name, label: s.name }))];
}

function operationOptions(services, serviceName, allLabel) {
  const ops = new Set();
  for (const s of services) {
    if (!serviceName || s.name === serviceName) for (const op of s.operations || []) ops.add(op);
  }
  return [{ value: '', label: allLabel }, ...[...ops].sort().map((op) => ({ value: op, label: op }))];
}

/**
 * Splits the attribute filter box into KEY=VALUE items: one per line, or several on a line
 * separated by commas. A comma splits only when what follows looks like `KEY=`, so a value
 * such as a SQL text with commas in it stays whole.
 */
function parseAttrFilters(text) {
  const items = [];
  for (const line of text.split(/\r?\n/)) {
    for (const piece of line.split(/,\s*(?=[A-Za-z0-9_.\-/]+=)/)) {
      const item = piece.trim();
      if (item) items.push(item);
    }
  }
  return items;
}

// ---------------------------------------------------------------- Search

function searchView(ctx) {
  let submitted = ctx.params;
  let services = [];

  const service = el('select', { id: 'f-service', name: 'service' });
  const operation = el('select', { id: 'f-operation', name: 'operation' });
  const minDuration = el('input', { id: 'f-min', name: 'min_duration', type: 'text', placeholder: 'e.g. 100ms', autocomplete: 'off', spellcheck: 'false' });
  const maxDuration = el('input', { id: 'f-max', name: 'max_duration', type: 'text', placeholder: 'e.g. 2s', autocomplete: 'off', spellcheck: 'false' });
  const errorsOnly = el('input', { id: 'f-errors', name: 'errors', type: 'checkbox' });
  const failingOnly = el('input', { id: 'f-failing', name: 'failing', type: 'checkbox' });
  const attrs = el('textarea', { id: 'f-attrs', name: 'attr', rows: 3, spellcheck: 'false', placeholder: 'tracedojo.user.tier=gold\nhttp.response.status_code=500' });
  const since = el('select', { id: 'f-since', name: 'since' });
  const limit = el('input', { id: 'f-limit', name: 'limit', type: 'number', min: 1, max: 1000, step: 1 });
  // "custom range…": from and to in local time, sent as `start` and `end` (Unix ms).
  const rangeFrom = el('input', { id: 'f-from', name: 'start', type: 'datetime-local', step: 1 });
  const rangeTo = el('input', { id: 'f-to', name: 'end', type: 'datetime-local', step: 1 });
  const timeZone = (() => {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
    } catch {
      return '';
    }
  })();
  const customRange = el('div', { id: 'f-range', class: 'custom-range', role: 'group', 'aria-label': 'Custom time range', hidden: true },
    field('From', rangeFrom).row,
    field('To', rangeTo).row,
    el('div', { class: 'field-hint', text: `Local time${timeZone ? ` (${timeZone})` : ''}; leave one empty for an open range` }));
  const fieldsByParameter = { service, operation, min_duration: minDuration, max_duration: maxDuration, errors: errorsOnly, failing: failingOnly, attr: attrs, since, limit, start: rangeFrom, end: rangeTo };
  // What a link's start/end were and how the inputs showed them: unchanged, they are sent
  // again exactly (a local time can name two instants when the clocks go back).
  const shownRange = { start: null, end: null };
  // A problem found before asking the API (an input filled halfway): {message, inputs}.
  let localProblem = null;
  // The preset chosen before "custom range…", to prefill the inputs with the same span.
  let lastPreset = 'all';

  const formError = el('div', { class: 'form-error', id: 'search-error' });
  const form = el('form', { id: 'search-form', class: 'side-form', 'aria-label': 'Search traces', novalidate: true },
    el('h2', { text: 'Find traces' }),
    field('Service', service).row,
    field('Operation', operation).row,
    el('div', { class: 'field-pair' },
      field('Min duration', minDuration).row,
      field('Max duration', maxDuration).row),
    el('div', { class: 'field check' }, errorsOnly, el('label', { for: 'f-errors', text: 'Errors only (the span failed)' })),
    el('div', { class: 'field check' }, failingOnly, el('label', { for: 'f-failing', text: 'Failing traces only (any span failed)' })),
    field('Attributes', attrs, 'KEY=VALUE, one per line or comma separated').row,
    el('div', { class: 'field-pair time-pair' },
      field('Time range', since).row,
      field('Limit', limit).row),
    customRange,
    el('div', { class: 'actions' },
      el('button', { type: 'submit', class: 'primary', text: 'Search' }),
      el('a', { href: '#/search', class: 'button-link', text: 'Reset' })),
    formError);
  const summary = el('div', { class: 'results-summary', 'aria-live': 'polite' });
  const results = el('div', { class: 'results', id: 'search-results', 'aria-busy': 'true' });
  const loadError = el('div');
  ctx.root.append(el('div', { class: 'layout-side' }, form, el('section', { class: 'main-col', 'aria-label': 'Traces found' }, loadError, summary, results)));

  /** The usual ranges, plus whatever range a link asked for, plus a custom one. */
  function fillSince(wanted) {
    const ranges = ['5m', '15m', '1h', '6h'];
    if (wanted && wanted !== 'all' && wanted !== 'custom' && !ranges.includes(wanted)) ranges.unshift(wanted);
    fillSelect(since, [
      ...ranges.map((w) => ({ value: w, label: `last ${w}` })),
      { value: 'all', label: 'everything' },
      { value: 'custom', label: 'custom range\u2026' },
    ], wanted || 'all');
  }

  /** Shows a link's start or end (Unix ms) in its input and remembers both. */
  function setRangeInput(input, key, raw) {
    const valid = raw !== null && /^\d+$/.test(raw.trim());
    input.value = valid ? toLocalInput(Number(raw.trim())) : '';
    shownRange[key] = valid && input.value ? { raw: raw.trim(), shown: input.value } : null;
  }

  function showRange() {
    customRange.hidden = since.value !== 'custom';
  }

  function setForm(params) {
    minDuration.value = params.get('min_duration') || '';
    maxDuration.value = params.get('max_duration') || '';
    errorsOnly.checked = params.get('errors') === 'true';
    failingOnly.checked = params.get('failing') === 'true';
    attrs.value = params.getAll('attr').join('\n');
    const custom = params.has('start') || params.has('end');
    fillSince(custom ? 'custom' : (params.get('since') || 'all'));
    if (!custom) lastPreset = since.value;
    setRangeInput(rangeFrom, 'start', params.get('start'));
    setRangeInput(rangeTo, 'end', params.get('end'));
    showRange();
    limit.value = params.get('limit') || '20';
    fillSelect(service, serviceOptions(services, 'All services'), params.get('service') || '');
    fillOperations(params.get('operation') || '');
  }

  function fillOperations(wanted) {
    fillSelect(operation, operationOptions(services, service.value, 'All operations'), wanted);
  }

  /** A range input as Unix ms text: a link's exact value while the input still shows it. */
  function rangeValue(input, key) {
    const shown = shownRange[key];
    if (shown && input.value === shown.shown) return shown.raw;
    const ms = fromLocalInput(input.value);
    return ms === null ? null : String(Math.round(ms));
  }

  /** Problems the API cannot see: an input filled halfway reads as empty. */
  function checkRange() {
    if (since.value !== 'custom') return null;
    const halfway = [[rangeFrom, 'From'], [rangeTo, 'To']].filter(([input]) => input.validity.badInput);
    if (halfway.length) {
      return {
        message: `${halfway.map(([, name]) => name).join(' and ')}: the date or the time is incomplete`,
        inputs: halfway.map(([input]) => input),
      };
    }
    if (!rangeFrom.value && !rangeTo.value) {
      return { message: 'A custom range needs a start, an end, or both', inputs: [rangeFrom, rangeTo] };
    }
    return null;
  }

  function showLocalProblem() {
    if (!localProblem) return;
    fill(formError, errorBox({ message: localProblem.message }));
    for (const input of localProblem.inputs) input.setAttribute('aria-invalid', 'true');
  }

  function formParams() {
    const params = new URLSearchParams();
    if (service.value) params.set('service', service.value);
    if (operation.value) params.set('operation', operation.value);
    if (minDuration.value.trim()) params.set('min_duration', minDuration.value.trim());
    if (maxDuration.value.trim()) params.set('max_duration', maxDuration.value.trim());
    if (errorsOnly.checked) params.set('errors', 'true');
    if (failingOnly.checked) params.set('failing', 'true');
    for (const item of parseAttrFilters(attrs.value)) params.append('attr', item);
    if (since.value === 'custom') {
      const start = rangeValue(rangeFrom, 'start');
      const end = rangeValue(rangeTo, 'end');
      if (start !== null) params.set('start', start);
      if (end !== null) params.set('end', end);
    } else if (since.value !== 'all') {
      params.set('since', since.value);
    }
    if (limit.value.trim() && limit.value.trim() !== '20') params.set('limit', limit.value.trim());
    return params;
  }

  service.addEventListener('change', () => fillOperations(''));
  since.addEventListener('change', () => {
    if (since.value !== 'custom') {
      lastPreset = since.value;
      if (localProblem) {
        // What was wrong with the range no longer applies.
        for (const input of localProblem.inputs) input.removeAttribute('aria-invalid');
        localProblem = null;
        fill(formError);
      }
    } else if (!rangeFrom.value && !rangeTo.value && !rangeFrom.validity.badInput && !rangeTo.validity.badInput) {
      // Start from the span the preset covered (an hour after "everything"), to the minute.
      const now = Date.now();
      const span = durationMs(lastPreset) || 3600000;
      rangeFrom.value = toLocalInput(Math.floor((now - span) / 60000) * 60000);
      rangeTo.value = toLocalInput(Math.ceil(now / 60000) * 60000);
    }
    showRange();
  });
  for (const input of [rangeFrom, rangeTo]) {
    input.addEventListener('input', () => {
      if (!localProblem || !localProblem.inputs.includes(input)) return;
      input.removeAttribute('aria-invalid');
    });
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearInvalid();
    localProblem = checkRange();
    if (localProblem) {
      showLocalProblem();
      localProblem.inputs[0].focus();
      return;
    }
    const params = formParams();
    if (params.toString() === submitted.toString()) load(true);
    else navigate('/search', params);
  });

  function clearInvalid() {
    fill(formError);
    for (const input of Object.values(fieldsByParameter)) input.removeAttribute('aria-invalid');
  }

  function render(body, error) {
    clearInvalid();
    // A refresh must not wipe what the person was told about the form a moment ago.
    showLocalProblem();
    if (error) {
      // A refused search: say why next to the form and point at the field.
      results.removeAttribute('aria-busy');
      results.dataset.query = submitted.toString();
      fill(results);
      fill(summary);
      fill(loadError);
      fill(formError, errorBox(error));
      const input = fieldsByParameter[error.parameter];
      if (input) input.setAttribute('aria-invalid', 'true');
      return;
    }
    results.removeAttribute('aria-busy');
    // Which search these results answer (tests wait for it; a person sees the form).
    results.dataset.query = submitted.toString();
    const traces = Array.isArray(body.traces) ? body.traces : [];
    const shown = `${traces.length} trace${traces.length === 1 ? '' : 's'}, newest first`;
    fill(summary, el('span', { text: shown }),
      traces.length >= (body.limit || 20) ? el('span', { class: 'hint', text: ` · the limit is ${body.limit}: raise it or narrow the search to see older ones` }) : null);
    if (!traces.length) {
      fill(results, emptyBox(`No trace matches${inNamespace()}.`, 'Widen the time range, remove a filter, or check that your services export to this explorer.'));
      return;
    }
    // A live refresh redraws the rows: keep the keyboard on the trace it was on.
    const focused = document.activeElement && document.activeElement.closest('#results tr[data-trace-id]');
    const focusedTrace = focused ? focused.dataset.traceId : null;
    const longest = Math.max(...traces.map((t) => t.duration_ms || 0), 0.001);
    const rows = traces.map((t) => {
      const href = traceHref(t.trace_id, t.matched_span_id);
      const rootLabel = t.root_name || '(root span not arrived)';
      const row = el('tr', { class: ['clickable', t.error_count > 0 && 'has-error'], 'data-trace-id': t.trace_id },
        el('td', { class: 'mono nowrap' }, fmtTime(t.start_unix_nanos), el('span', { class: 'ago', text: fmtAgo(t.start_unix_nanos) })),
        el('td', { class: 'trace-cell' },
          el('a', { class: 'trace-link', href }, t.root_service ? serviceChip(t.root_service) : null, el('span', { class: 'op', text: rootLabel })),
          el('span', { class: 'trace-id mono', text: shortId(t.trace_id), title: t.trace_id })),
        el('td', { class: 'num mono duration-cell' }, el('span', { text: fmtMs(t.duration_ms) }),
          el('span', { class: 'mini-bar', 'aria-hidden': 'true', style: { '--w': `${Math.max(1, (100 * (t.duration_ms || 0)) / longest)}%` } })),
        el('td', { class: 'num mono', text: fmtCount(t.span_count) }),
        el('td', { class: 'num mono' }, t.error_count > 0 ? el('span', { class: 'badge err', text: fmtCount(t.error_count) }) : '0'),
        el('td', { class: 'chips' }, (t.services || []).map((s) => serviceChip(s.name,
          el('span', { class: ['chip-count', s.error_count > 0 && 'err'], text: s.error_count > 0 ? ` ${s.span_count} · ${s.error_count} err` : ` ${s.span_count}` })))));
      // The whole row navigates, for the mouse; the link inside is what the keyboard reaches.
      row.addEventListener('click', (event) => {
        if (event.target.closest('a')) return;
        location.hash = href;
      });
      return row;
    });
    fill(results, durationScatter(traces), el('div', { class: 'table-wrap' }, el('table', { id: 'results', class: 'data' },
      el('caption', { class: 'visually-hidden', text: 'Traces found, newest first' }),
      el('thead', null, el('tr', null,
        el('th', { scope: 'col', text: 'Start' }),
        el('th', { scope: 'col', text: 'Trace' }),
        el('th', { scope: 'col', class: 'num', text: 'Duration' }),
        el('th', { scope: 'col', class: 'num', text: 'Spans' }),
        el('th', { scope: 'col', class: 'num', text: 'Errors' }),
        el('th', { scope: 'col', text: 'Services' }))),
      el('tbody', null, rows))));
    if (focusedTrace) {
      const again = rows.find((r) => r.dataset.traceId === focusedTrace);
      if (again) again.querySelector('a.trace-link').focus();
    }
  }

  /**
   * The traces found as dots, start time across and duration up (as Jaeger's search shows
   * them): outliers and failures stand out before a row is read. A dot opens its trace.
   */
  function durationScatter(traces) {
    if (!window.TdChart) return null;
    const chart = svg('svg', { id: 'search-scatter' });
    const card = el('figure', { class: 'chart-card scatter-card' },
      el('figcaption', { class: 'chart-title' }, 'Duration over time',
        el('span', { class: 'hint', text: ' · one dot per trace found, red when it failed; choose one to open it' })),
      chart);
    results.append(card);
    TdChart.scatter(chart, {
      width: Math.max(420, Math.round(card.clientWidth - 16) || 900),
      height: 180,
      label: `Duration against start time of the ${traces.length} traces found`,
      formatY: fmtMs,
      points: traces.map((t) => ({
        x: t.start_unix_nanos / 1e6,
        y: t.duration_ms,
        error: t.error_count > 0,
        id: t.trace_id,
        href: traceHref(t.trace_id, t.matched_span_id),
        title: `${t.root_service || '?'}: ${t.root_name || '(root span not arrived)'} · ${fmtMs(t.duration_ms)} · ${fmtTime(t.start_unix_nanos)}`
          + `${t.error_count > 0 ? ` · ${fmtCount(t.error_count)} errors` : ''}`,
      })),
      // The same place as choosing the trace's row.
      onClick: (point) => { location.hash = point.href; },
    });
    return card;
  }

  const load = makeLoader(ctx, loadError, () => {
    const params = new URLSearchParams();
    for (const key of ['service', 'operation', 'min_duration', 'max_duration', 'errors', 'failing', 'since', 'start', 'end', 'limit']) {
      const value = submitted.get(key);
      if (value) params.set(key, value);
    }
    for (const item of submitted.getAll('attr')) params.append('attr', item);
    return api('/api/traces', params);
  }, render);

  async function refreshServices() {
    const fresh = await fetchServices();
    if (!ctx.alive()) return;
    // Span counts change all the time; refill the lists (which closes an open one) only when
    // a service or an operation is new.
    const names = (list) => JSON.stringify(list.map((s) => [s.name, s.operations]));
    if (names(fresh) === names(services)) return;
    services = fresh;
    // Keep what the person chose while the lists grow.
    const chosenService = service.value;
    const chosenOperation = operation.value;
    fillSelect(service, serviceOptions(services, 'All services'), chosenService);
    fillOperations(chosenOperation);
  }

  setForm(submitted);
  refreshServices().then(() => ctx.alive() && setForm(submitted));
  load(true);

  return {
    refresh: () => Promise.all([load(false), refreshServices()]),
    update(params) {
      submitted = params;
      localProblem = null;
      setForm(params);
      // Old results must not pass for the new search's while it runs.
      results.setAttribute('aria-busy', 'true');
      fill(summary, 'Searching…');
      return load(true);
    },
  };
}

// ---------------------------------------------------------------- Trace

function traceView(ctx) {
  const traceId = ctx.parts[1] || '';
  let selected = ctx.params.get('span') || null;
  let trace = null;
  let firstDraw = true;
  const collapsed = new Set();

  const loadError = el('div');
  const head = el('div', { class: 'trace-head' });
  const waterfall = el('div', { class: 'waterfall-wrap' });
  const details = el('aside', { id: 'span-details', class: 'details', 'aria-label': 'Span details', tabindex: '-1', hidden: true });
  const explain = explainPanel(traceId, reveal);
  ctx.root.append(loadError, head, explain, el('div', { class: 'trace-body' }, waterfall, details));

  function spanById(id) {
    return trace && trace.spans.find((s) => s.span_id === id);
  }

  function select(spanId, focusDetails) {
    selected = spanId;
    history.replaceState(null, '', traceHref(traceId, spanId));
    for (const row of waterfall.querySelectorAll('tr.span-row')) {
      const on = row.dataset.spanId === spanId;
      row.classList.toggle('selected', on);
      row.querySelector('.span-toggle-details').setAttribute('aria-expanded', on ? 'true' : 'false');
    }
    renderDetails();
    if (focusDetails && !details.hidden) details.focus({ preventScroll: true });
  }

  /** Selects a span named elsewhere on the page (the explanation), unfolding what hides it. */
  function reveal(spanId) {
    if (!spanById(spanId)) return;
    for (let span = spanById(spanId); span && span.parent_span_id; span = spanById(span.parent_span_id)) {
      collapsed.delete(span.parent_span_id);
    }
    applyCollapse();
    select(spanId, true);
    const row = [...waterfall.querySelectorAll('tr.span-row')].find((r) => r.dataset.spanId === spanId);
    if (row) row.scrollIntoView({ block: 'center' });
  }

  function renderHead() {
    const root = trace.spans.find((s) => !s.parent_span_id) || trace.spans[0];
    fill(head, 
      el('div', { class: 'trace-title' },
        el('h1', null, root ? serviceChip(root.service) : null, el('span', { class: 'op', text: root ? root.name : '(empty trace)' })),
        el('div', { class: 'trace-id mono' }, 'trace ', el('span', { class: 'selectable', text: trace.trace_id }))),
      el('div', { class: 'stats' },
        stat('started', fmtTime(trace.start_unix_nanos)),
        stat('duration', fmtMs(trace.duration_ms)),
        stat('spans', fmtCount(trace.span_count)),
        stat('errors', fmtCount(trace.error_count), trace.error_count > 0 ? 'err' : null),
        stat('services', fmtCount((trace.services || []).length))),
      el('div', { class: 'chips' }, (trace.services || []).map((s) => serviceChip(s))),
      el('div', { class: 'legend', 'aria-label': 'Legend' },
        el('span', { class: 'legend-item' }, el('span', { class: 'swatch bar-swatch', 'aria-hidden': 'true' }), 'span (colour: service)'),
        el('span', { class: 'legend-item' }, el('span', { class: 'swatch cp-swatch', 'aria-hidden': 'true' }), 'critical path: the work the trace\u2019s end waited on'),
        el('span', { class: 'legend-item' }, el('span', { class: 'swatch err-swatch', 'aria-hidden': 'true' }), 'error'),
        el('span', { class: 'legend-item' }, el('span', { class: 'swatch event-swatch', 'aria-hidden': 'true' }), 'event'),
        el('span', { class: 'legend-item' }, el('span', { class: 'swatch log-swatch', 'aria-hidden': 'true' }), 'log record (≡ how many)')));
  }

  function renderWaterfall() {
    const total = Math.max(trace.duration_ms || 0, 1e-6);
    const segments = new Map();
    for (const seg of trace.critical_path || []) {
      if (!segments.has(seg.span_id)) segments.set(seg.span_id, []);
      segments.get(seg.span_id).push(seg);
    }
    const hasChildren = new Set(trace.spans.map((s) => s.parent_span_id).filter(Boolean));
    const rows = trace.spans.map((span) => spanRow(span, total, segments.get(span.span_id) || [], hasChildren.has(span.span_id)));
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => el('span', { class: 'tick', style: { '--at': `${f * 100}%` }, text: fmtMs(total * f) }));
    const tbody = el('tbody', null, rows);
    tbody.addEventListener('keydown', onKeyDown);
    fill(waterfall, el('table', { id: 'waterfall', class: 'waterfall' },
      el('caption', { class: 'visually-hidden', text: 'Spans of the trace in waterfall order; choose one to see its details' }),
      el('colgroup', null, el('col', { class: 'c-name' }), el('col', { class: 'c-service' }), el('col', { class: 'c-dur' }), el('col', { class: 'c-timeline' })),
      el('thead', null, el('tr', null,
        el('th', { scope: 'col', text: 'Span' }),
        el('th', { scope: 'col', text: 'Service' }),
        el('th', { scope: 'col', class: 'num', text: 'Duration' }),
        el('th', { scope: 'col', class: 'timeline-head' }, el('span', { class: 'visually-hidden', text: 'Timeline' }), el('div', { class: 'ticks', 'aria-hidden': 'true' }, ticks)))),
      tbody));
    applyCollapse();
  }

  function spanRow(span, total, cpSegments, hasKids) {
    const isError = span.status_code === 'ERROR';
    const critical = span.critical_path_nanos > 0;
    const left = Math.min(100, Math.max(0, (100 * (span.offset_ms || 0)) / total));
    const width = Math.min(100 - left, Math.max(0, (100 * (span.duration_ms || 0)) / total));
    const spanStart = span.start_unix_nanos;
    const spanNanos = Math.max(span.duration_nanos || 0, 1);

    // Critical-path segments are drawn inside the bar, positioned relative to the span.
    const cp = cpSegments.map((seg) => el('span', {
      class: 'cp',
      style: {
        '--l': `${Math.max(0, Math.min(100, (100 * (seg.start_unix_nanos - spanStart)) / spanNanos))}%`,
        '--w': `${Math.max(0, Math.min(100, (100 * (seg.end_unix_nanos - seg.start_unix_nanos)) / spanNanos))}%`,
      },
    }));
    const events = (span.events || []).map((ev) => el('span', {
      class: ['event-mark', ev.name === 'exception' && 'err'],
      title: ev.name,
      style: { '--l': `${Math.max(0, Math.min(100, (100 * (ev.time_unix_nanos - spanStart)) / spanNanos))}%` },
    }));
    const logs = Array.isArray(span.logs) ? span.logs : [];
    const logMarks = logs.map((log) => el('span', {
      class: ['log-mark', severityClass(log.severity_number)],
      title: `log: ${log.body}`,
      style: { '--l': `${Math.max(0, Math.min(100, (100 * (log.time_unix_nanos - spanStart)) / spanNanos))}%` },
    }));
    const labelOnLeft = left + width > 70;
    const toggle = hasKids
      ? el('button', {
        type: 'button',
        class: 'collapse',
        'aria-label': `Fold the spans below ${span.name}`,
        'aria-expanded': 'true',
        on: {
          click: (event) => {
            event.stopPropagation();
            toggleCollapse(span.span_id);
          },
        },
      }, '▾')
      : el('span', { class: 'collapse-spacer', 'aria-hidden': 'true' });
    const row = el('tr', {
      class: ['span-row', critical && 'critical', isError && 'error', span.span_id === selected && 'selected'],
      'data-span-id': span.span_id,
      'data-parent-span-id': span.parent_span_id || '',
      'data-depth': span.depth,
      'data-service': span.service,
      'data-logs': logs.length,
    },
    el('td', { class: 'name-cell', style: { '--depth': Math.min(span.depth || 0, 40) } },
      toggle,
      el('button', {
        type: 'button', class: 'span-toggle-details', 'aria-controls': 'span-details',
        'aria-expanded': span.span_id === selected ? 'true' : 'false', title: span.name,
        on: { click: (event) => { event.stopPropagation(); select(span.span_id, false); } },
      },
      isError ? el('span', { class: 'err-icon', title: 'error', text: '!' }) : null,
      critical ? el('span', { class: 'cp-icon', title: 'on the critical path', 'aria-label': 'on the critical path' }) : null,
      el('span', { class: 'span-name', text: span.name }),
      logs.length ? el('span', { class: 'log-count', title: `${logs.length} log record${logs.length === 1 ? '' : 's'}`, text: `≡${logs.length}` }) : null),
      span.parent_missing ? el('span', { class: 'badge warn', title: `parent ${span.parent_span_id} is not in the store`, text: 'orphan' }) : null),
    el('td', { class: 'service-cell' }, serviceChip(span.service)),
    el('td', { class: 'num mono', text: fmtMs(span.duration_ms) }),
    el('td', { class: 'timeline' }, el('div', { class: 'track' },
      el('span', {
        class: ['bar', 'svc'],
        style: { '--hue': serviceHue(span.service), '--l': `${left}%`, '--w': `${width}%` },
        title: `${span.name}: ${fmtMs(span.duration_ms)} from +${fmtMs(span.offset_ms)}`,
      }, cp, events, logMarks),
      // No room on either side of a bar that spans nearly the whole trace: the Duration column says it.
      labelOnLeft && left < 10 ? null : el('span', {
        class: ['bar-label', labelOnLeft && 'left'],
        style: { '--l': `${left}%`, '--w': `${width}%`, '--r': `${100 - left}%` },
        text: fmtMs(span.duration_ms),
      }))));
    row.addEventListener('click', () => select(span.span_id, false));
    return row;
  }

  function toggleCollapse(spanId) {
    if (collapsed.has(spanId)) collapsed.delete(spanId);
    else collapsed.add(spanId);
    applyCollapse();
  }

  /** Hides the rows below folded spans (rows come depth first, so a subtree is a run of deeper rows). */
  function applyCollapse() {
    let hideDeeperThan = Infinity;
    const rows = [...waterfall.querySelectorAll('tr.span-row')];
    rows.forEach((row, i) => {
      const depth = Number(row.dataset.depth);
      if (depth <= hideDeeperThan) hideDeeperThan = Infinity;
      row.hidden = depth > hideDeeperThan;
      const folded = collapsed.has(row.dataset.spanId);
      const button = row.querySelector('button.collapse');
      if (button) {
        let hidden = 0;
        for (let j = i + 1; j < rows.length && Number(rows[j].dataset.depth) > depth; j += 1) hidden += 1;
        button.textContent = folded ? `▸${hidden}` : '▾';
        button.setAttribute('aria-expanded', folded ? 'false' : 'true');
      }
      if (folded && !row.hidden && hideDeeperThan === Infinity) hideDeeperThan = depth;
    });
  }

  /** Up/Down move between rows, as in a list. */
  function onKeyDown(event) {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const rows = [...waterfall.querySelectorAll('tr.span-row')].filter((r) => !r.hidden);
    const current = event.target.closest('tr.span-row');
    const index = rows.indexOf(current);
    const next = rows[index + (event.key === 'ArrowDown' ? 1 : -1)];
    if (next) {
      event.preventDefault();
      next.querySelector('.span-toggle-details').focus();
    }
  }

  function kvTable(caption, object) {
    const entries = Object.entries(object || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (!entries.length) return el('p', { class: 'muted', text: 'none' });
    return el('table', { class: 'kv' }, el('caption', { class: 'visually-hidden', text: caption }),
      el('tbody', null, entries.map(([key, value]) => el('tr', null,
        el('th', { scope: 'row', class: 'mono', text: key }),
        el('td', { class: ['mono', 'value', typeof value !== 'string' && 'typed'], text: fmtValue(value) })))));
  }

  function section(title, count, ...content) {
    return el('section', { class: 'detail-section' },
      el('h3', null, title, count === null ? null : el('span', { class: 'count', text: ` ${count}` })), content);
  }

  /** The span's log records: when (after the span's start), how severe, what, and their attributes. */
  function logList(span) {
    const logs = Array.isArray(span.logs) ? span.logs : [];
    if (!logs.length) return el('p', { class: 'muted no-logs', text: 'no logs for this span' });
    return el('ol', { class: 'logs' }, logs.map((log) => {
      const offset = log.time_unix_nanos - span.start_unix_nanos;
      const severity = log.severity_text || severityName(log.severity_number);
      return el('li', { class: severityClass(log.severity_number) },
        el('div', { class: 'log-head' },
          // A host's clock can put a record before its span's start.
          el('span', { class: 'mono muted', title: fmtTime(log.time_unix_nanos), text: offset < 0 ? `−${fmtNanos(-offset)}` : `+${fmtNanos(offset)}` }),
          severity ? el('span', { class: ['badge', 'severity', severityClass(log.severity_number)], text: severity }) : null),
        el('div', { class: 'log-body', text: log.body === '' ? '(no body)' : log.body }),
        Object.keys(log.attributes || {}).length ? kvTable('Attributes of the log record', log.attributes) : null);
    }));
  }

  /**
   * The span's events but those a log record of the same span repeats (a service that logs
   * through both bridges writes each line twice: same text, within a millisecond), which are
   * shown once, under Logs. Exceptions always stay events.
   */
  function eventsNotInLogs(span) {
    const logs = Array.isArray(span.logs) ? span.logs : [];
    return (span.events || []).filter((ev) => ev.name === 'exception' || !logs.some((log) =>
      log.body === ev.name && Math.abs(log.time_unix_nanos - ev.time_unix_nanos) < 1e6));
  }

  function renderDetails() {
    const span = selected && spanById(selected);
    if (!span) {
      details.hidden = true;
      fill(details);
      return;
    }
    details.hidden = false;
    const parent = span.parent_span_id ? spanById(span.parent_span_id) : null;
    const isError = span.status_code === 'ERROR';
    const facts = [
      ['Service', serviceChip(span.service)],
      ['Kind', span.kind],
      ['Status', el('span', { class: isError ? 'err' : null }, span.status_code, span.status_message ? ` · ${span.status_message}` : '')],
      ['Duration', fmtMs(span.duration_ms)],
      ['Starts', `+${fmtMs(span.offset_ms)} · ${fmtTime(span.start_unix_nanos)}`],
      ['Self time', fmtNanos(span.self_nanos)],
      ['Critical path', span.critical_path_nanos > 0 ? fmtNanos(span.critical_path_nanos) : 'not on it'],
      ['Span ID', el('span', { class: 'mono selectable', text: span.span_id })],
      ['Parent', span.parent_span_id
        ? (parent
          ? el('button', { type: 'button', class: 'link-button', on: { click: () => select(parent.span_id, true) } }, el('span', { class: 'mono', text: span.parent_span_id }), ` ${parent.name}`)
          : el('span', { class: 'mono', text: `${span.parent_span_id} (not in the store)` }))
        : 'none (root)'],
      ['Trace ID', el('span', { class: 'mono selectable', text: trace.trace_id })],
      ['Scope', span.scope || '–'],
    ];
    const events = eventsNotInLogs(span);
    const repeated = (span.events || []).length - events.length;
    fill(details, 
      el('div', { class: 'details-head' },
        el('h2', { class: isError ? 'err' : null, text: span.name }),
        el('button', { type: 'button', class: 'close', 'aria-label': 'Close span details', text: '×', on: { click: () => select(null, false) } })),
      el('dl', { class: 'facts' }, facts.map(([k, v]) => [el('dt', { text: k }), el('dd', null, v)])),
      section('Attributes', Object.keys(span.attributes || {}).length, kvTable('Span attributes', span.attributes)),
      section('Events', (span.events || []).length, events.length
        ? el('ol', { class: 'events' }, events.map((ev) => el('li', { class: ev.name === 'exception' ? 'err' : null },
          el('div', { class: 'event-head' }, el('strong', { text: ev.name }), el('span', { class: 'mono muted', text: ` +${fmtNanos(ev.time_unix_nanos - span.start_unix_nanos)}` })),
          Object.keys(ev.attributes || {}).length ? kvTable(`Attributes of event ${ev.name}`, ev.attributes) : null)))
        : (repeated ? null : el('p', { class: 'muted', text: 'none' })),
        repeated ? el('p', { class: 'muted events-as-logs', text: repeated === 1 ? '1 event is also a log record: listed under Logs' : `${repeated} events are also log records: listed under Logs` }) : null),
      section('Logs', (span.logs || []).length, logList(span)),
      section('Links', (span.links || []).length, (span.links || []).length
        ? el('ul', { class: 'links-list' }, span.links.map((link) => el('li', null,
          el('a', { href: traceHref(link.trace_id, link.span_id), class: 'mono' }, `trace ${link.trace_id}`),
          el('div', { class: 'mono muted', text: `span ${link.span_id}` }),
          Object.keys(link.attributes || {}).length ? kvTable('Link attributes', link.attributes) : null)))
        : el('p', { class: 'muted', text: 'none' })),
      section('Resource', Object.keys(span.resource || {}).length, kvTable('Resource attributes', span.resource)));
  }

  function render(body, error) {
    if (error) {
      if (error.status === 404) {
        fill(head, emptyBox(`Trace ${traceId} is not in the store.`,
          'Its spans may not have arrived yet (live refresh keeps looking), '
          + 'or it was evicted to stay within the store\u2019s bounds.'));
        fill(loadError);
      }
      fill(waterfall);
      details.hidden = true;
      return;
    }
    trace = body;
    if (!Array.isArray(trace.spans)) trace.spans = [];
    renderHead();
    renderWaterfall();
    renderDetails();
    if (firstDraw && selected) {
      // Opened at a span (a search match, a link): bring its row into view once.
      const row = waterfall.querySelector(`tr.span-row.selected`);
      if (row) row.scrollIntoView({ block: 'center' });
    }
    firstDraw = false;
  }

  const load = makeLoader(ctx, loadError, () => api(`/api/traces/${encodeURIComponent(traceId)}`), render);
  load(true);
  return { refresh: () => load(false) };
}

// ---------------------------------------------------------------- Explain: one trace in plain words

/** The explanation's languages, by the code the API takes, and the panel's words in each. */
const EXPLAIN_LANGS = [
  { code: 'en', label: 'English', failure: 'First failure', top: 'Largest step on the critical path', copied: 'Copied' },
  { code: 'ja', label: '日本語', failure: '失敗の起点', top: 'クリティカルパスで最も長いスパン', copied: 'コピーしました' },
];

/** The first of the browser's languages the explanation speaks, else English. */
function preferredExplainLang() {
  const tags = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  for (const tag of tags) {
    const code = String(tag).toLowerCase().split('-')[0];
    if (EXPLAIN_LANGS.some((l) => l.code === code)) return code;
  }
  return 'en';
}

/** Copies text through the Clipboard API, else through a selected textarea (older browsers, plain http on another host). */
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = el('textarea', { class: 'visually-hidden', readonly: true, 'aria-hidden': 'true' });
  area.value = text;
  document.body.appendChild(area);
  area.select();
  const done = document.execCommand('copy');
  area.remove();
  if (!done) throw new Error('the browser refused to copy');
}

/**
 * The trace page's Explain button and panel: the API's sentences about the trace
 * (/api/traces/ID/explain) in English or Japanese, links that select the first failing span
 * and the largest step of the critical path in the waterfall (`reveal(spanId)`), and a Copy
 * button for pasting the text into a chat thread. Returns the node to place above the waterfall.
 */
function explainPanel(traceId, reveal) {
  let lang = preferredExplainLang();
  let seq = 0;
  let copyable = '';
  const words = () => EXPLAIN_LANGS.find((l) => l.code === lang) || EXPLAIN_LANGS[0];

  const button = el('button', {
    type: 'button', id: 'explain-button', class: 'primary', 'aria-expanded': 'false', 'aria-controls': 'explain-panel', text: 'Explain',
  });
  const langs = el('div', { class: 'explain-langs', role: 'radiogroup', 'aria-label': 'Language of the explanation' },
    EXPLAIN_LANGS.map((l) => el('label', { lang: l.code },
      el('input', {
        type: 'radio', name: 'explain-lang', value: l.code, checked: l.code === lang,
        on: { change: () => { lang = l.code; load(); } },
      }), l.label)));
  const copyButton = el('button', { type: 'button', id: 'explain-copy', class: 'chart-button', text: 'Copy', disabled: true });
  const copyStatus = el('span', { class: 'muted', role: 'status' });
  const body = el('div', { class: 'explain-body', 'aria-live': 'polite' });
  const panel = el('section', { id: 'explain-panel', class: 'explain-panel', 'aria-label': 'The trace in plain words', hidden: true },
    el('div', { class: 'explain-tools' }, langs, copyButton, copyStatus), body);

  function spanLink(id, label, span) {
    return el('li', null, el('span', { class: 'muted', text: `${label}: ` }),
      el('button', {
        type: 'button', id, class: 'link-button', 'data-span-id': span.span_id,
        title: `Select span ${span.span_id} in the waterfall`, on: { click: () => reveal(span.span_id) },
      }, serviceChip(span.service), ' ', el('span', { text: span.operation })));
  }

  function render(answer) {
    const sentences = Array.isArray(answer.summary) ? answer.summary.map(String) : [];
    copyable = sentences.join('\n');
    copyButton.disabled = !copyable;
    const top = answer.critical_path && Array.isArray(answer.critical_path.spans) ? answer.critical_path.spans[0] : null;
    fill(body,
      el('div', { id: 'explain-text', class: 'explain-text', lang: answer.lang || lang }, sentences.map((s) => el('p', { text: s }))),
      el('ul', { class: 'explain-links', lang: words().code },
        answer.first_failure ? spanLink('explain-failure-link', words().failure, answer.first_failure) : null,
        top ? spanLink('explain-top-link', words().top, top) : null));
  }

  async function load() {
    const mine = ++seq;
    copyable = '';
    copyButton.disabled = true;
    fill(copyStatus);
    fill(body, el('p', { class: 'muted', text: '…' }));
    try {
      const { body: answer } = await api(`/api/traces/${encodeURIComponent(traceId)}/explain`, new URLSearchParams({ lang }));
      if (mine === seq) render(answer);
    } catch (error) {
      if (mine !== seq) return;
      if (!(error instanceof ApiError)) console.error(error);
      fill(body, errorBox(error, hintFor(error)));
    }
  }

  button.addEventListener('click', () => {
    const open = panel.hidden;
    panel.hidden = !open;
    button.setAttribute('aria-expanded', open ? 'true' : 'false');
    button.textContent = open ? 'Hide explanation' : 'Explain';
    if (open) load();
  });
  copyButton.addEventListener('click', async () => {
    if (!copyable) return;
    // The sentences and where to see the trace, as a chat post.
    const link = `${location.origin}${location.pathname}${location.search}${traceHref(traceId)}`;
    try {
      await copyText(`${copyable}\n${link}`);
      fill(copyStatus, words().copied);
    } catch (error) {
      fill(copyStatus, el('span', { class: 'err', text: `Could not copy: ${error.message}` }));
    }
  });

  return el('div', { class: 'explain' }, button, panel);
}

// ---------------------------------------------------------------- Service map

/**
 * Columns for the map: a node's column is the longest chain of calls leading to it, so
 * callers sit left of callees. Calls that close a cycle are found by a depth-first walk and
 * left out of the ranking (they are still drawn), so a cycle cannot make the layout loop.
 */
function layoutColumns(names, edges) {
  const out = new Map(names.map((n) => [n, []]));
  const incoming = new Map(names.map((n) => [n, 0]));
  for (const e of edges) {
    if (e.from === e.to || !out.has(e.from) || !out.has(e.to)) continue;
    out.get(e.from).push(e.to);
    incoming.set(e.to, incoming.get(e.to) + 1);
  }
  const starts = [...names].sort((a, b) => (incoming.get(a) - incoming.get(b)) || (a < b ? -1 : 1));
  const state = new Map(); // 1: on the walk's path, 2: done
  const forward = new Map(names.map((n) => [n, []]));
  for (const start of starts) {
    if (state.has(start)) continue;
    // An explicit stack instead of recursion: a long chain cannot overflow the call stack.
    const stack = [{ node: start, next: 0 }];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const targets = out.get(top.node);
      if (top.next >= targets.length) {
        state.set(top.node, 2);
        stack.pop();
        continue;
      }
      const to = targets[top.next++];
      if (state.get(to) === 1) continue; // closes a cycle
      forward.get(top.node).push(to);
      if (!state.has(to)) {
        state.set(to, 1);
        stack.push({ node: to, next: 0 });
      }
    }
  }
  // Longest path over the acyclic calls (Kahn's order).
  const indegree = new Map(names.map((n) => [n, 0]));
  for (const targets of forward.values()) for (const t of targets) indegree.set(t, indegree.get(t) + 1);
  const column = new Map(names.map((n) => [n, 0]));
  const queue = names.filter((n) => indegree.get(n) === 0);
  while (queue.length) {
    const node = queue.shift();
    for (const t of forward.get(node)) {
      column.set(t, Math.max(column.get(t), column.get(node) + 1));
      indegree.set(t, indegree.get(t) - 1);
      if (indegree.get(t) === 0) queue.push(t);
    }
  }
  return column;
}

function mapView(ctx) {
  const sinceValue = ctx.params.get('since') || '15m';
  const since = windowSelect(sinceValue);
  since.addEventListener('change', () => navigate('/map', new URLSearchParams({ since: since.value })));
  const loadError = el('div');
  const summary = el('div', { class: 'results-summary' });
  const drawing = el('div', { class: 'map-wrap' });
  const edgeTable = el('div');
  const edgeSort = { key: 'requests', desc: true };
  ctx.root.append(
    el('div', { class: 'toolbar' }, el('h1', { text: 'Service map' }), field('Window', since).row,
      el('span', {
        class: 'hint',
        text: 'Boxes are services, arrows are calls (from the callers\u2019 CLIENT and PRODUCER spans). '
          + 'Dashed: seen only from its callers. Choose a service to search its traces.',
      })),
    loadError, summary, drawing, edgeTable);

  function render(body, error) {
    if (error) {
      fill(drawing);
      fill(edgeTable);
      return;
    }
    const nodes = Array.isArray(body.nodes) ? body.nodes : [];
    const edges = Array.isArray(body.edges) ? body.edges : [];
    // Edges may name a service that has no node entry; draw it anyway.
    const byName = new Map(nodes.map((n) => [n.name, n]));
    for (const e of edges) {
      for (const name of [e.from, e.to]) if (!byName.has(name)) byName.set(name, { name, traced: false, span_count: 0, error_count: 0 });
    }
    fill(summary, `${byName.size} services, ${edges.length} calls in the last ${sinceValue}`);
    if (!byName.size) {
      fill(drawing, emptyBox(`No spans${inNamespace()} in the last ${sinceValue}.`, 'Send some traffic, or choose a longer window.'));
      fill(edgeTable);
      return;
    }
    fill(drawing, drawMap([...byName.values()], edges));
    fill(edgeTable, el('h2', { text: 'Calls' }), dataTable('map-edges', 'Calls between services', [
      { key: 'from', label: 'Caller', value: (e) => e.from, cell: (e) => serviceChip(e.from) },
      { key: 'to', label: 'Callee', value: (e) => e.to, cell: (e) => serviceChip(e.to) },
      { key: 'requests', label: 'Requests', num: true, value: (e) => e.requests, cell: (e) => fmtCount(e.requests) },
      { key: 'rate', label: 'Req/s', num: true, value: (e) => e.rate_per_second, cell: (e) => fmtRate(e.rate_per_second) },
      { key: 'errors', label: 'Errors', num: true, value: (e) => e.errors, cell: (e) => fmtCount(e.errors) },
      { key: 'error_rate', label: 'Error %', num: true, value: (e) => e.error_rate, cell: (e) => errorRate(e.error_rate) },
      { key: 'p95', label: 'p95', num: true, value: (e) => e.p95_ms, cell: (e) => fmtMs(e.p95_ms) },
    ], edges, edgeSort));
  }

  function drawMap(nodes, edges) {
    const names = nodes.map((n) => n.name).sort();
    const column = layoutColumns(names, edges);
    const columns = [];
    for (const name of names) {
      const c = column.get(name);
      (columns[c] = columns[c] || []).push(name);
    }
    const W = 160;
    const H = 48;
    const GAP_X = 200; // room for the edge labels between columns
    const GAP_Y = 44;
    const PAD = 24;
    // Order each column by where its callers sit (barycentre), which uncrosses most edges.
    const position = new Map();
    columns.forEach((list, c) => {
      if (!list) return;
      const weight = (name) => {
        const ys = edges.filter((e) => e.to === name && position.has(e.from)).map((e) => position.get(e.from).row);
        return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : Infinity;
      };
      list.sort((a, b) => (weight(a) - weight(b)) || (a < b ? -1 : 1));
      list.forEach((name, row) => position.set(name, { col: c, row }));
    });
    const rowsMax = Math.max(...columns.filter(Boolean).map((l) => l.length));
    const height = PAD * 2 + rowsMax * H + (rowsMax - 1) * GAP_Y + 60;
    const width = PAD * 2 + columns.length * W + (columns.length - 1) * GAP_X;
    for (const [name, p] of position) {
      const list = columns[p.col];
      const colHeight = list.length * H + (list.length - 1) * GAP_Y;
      const top = PAD + (rowsMax * H + (rowsMax - 1) * GAP_Y - colHeight) / 2;
      p.x = PAD + p.col * (W + GAP_X);
      p.y = top + p.row * (H + GAP_Y);
      position.set(name, p);
    }
    const bottom = height - 24;
    const marker = (id, cls) => svg('marker', {
      id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8,
      orient: 'auto-start-reverse', markerUnits: 'userSpaceOnUse',
    },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', class: cls }));
    const edgeNodes = [];
    const labelNodes = [];
    // Labels go where they overlap neither a box nor another label: the first free spot
    // moving away from the edge's middle, a line at a time.
    const taken = [...position.values()].map((p) => ({ x1: p.x, x2: p.x + W, y1: p.y, y2: p.y + H }));
    const freeSpot = (x, y, width) => {
      for (let i = 0; i < 16; i += 1) {
        const dy = (i % 2 ? 1 : -1) * Math.ceil(i / 2) * 13;
        const box = { x1: x - width / 2, x2: x + width / 2, y1: y + dy - 11, y2: y + dy + 3 };
        if (!taken.some((t) => box.x1 < t.x2 && t.x1 < box.x2 && box.y1 < t.y2 && t.y1 < box.y2)) {
          taken.push(box);
          return { x, y: y + dy };
        }
      }
      return { x, y };
    };
    for (const e of edges) {
      const a = position.get(e.from);
      const b = position.get(e.to);
      if (!a || !b) continue;
      let d;
      let mid;
      if (e.from === e.to) {
        const x = a.x + W;
        const y = a.y + H / 2;
        d = `M${x},${y - 10} C${x + 50},${y - 40} ${x + 50},${y + 40} ${x},${y + 10}`;
        mid = { x: x + 40, y };
      } else if (b.col > a.col) {
        const x1 = a.x + W;
        const y1 = a.y + H / 2;
        const x2 = b.x - 2;
        const y2 = b.y + H / 2;
        const dx = Math.max(40, (x2 - x1) / 2);
        d = `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
        mid = { x: (x1 + 3 * (x1 + dx) + 3 * (x2 - dx) + x2) / 8, y: (y1 + 3 * y1 + 3 * y2 + y2) / 8 };
      } else {
        // A call back to the left (a cycle) or within a column: route it under the nodes.
        const x1 = a.x + W / 2;
        const y1 = a.y + H;
        const x2 = b.x + W / 2 + 12;
        const y2 = b.y + H + 2;
        d = `M${x1},${y1} C${x1},${bottom} ${x2},${bottom} ${x2},${y2}`;
        mid = { x: (x1 + x2) / 2, y: (y1 + 3 * bottom + 3 * bottom + y2) / 8 };
      }
      const failing = e.error_rate > 0;
      const label = `${fmtRate(e.rate_per_second)} req/s · ${fmtPct(e.error_rate)} err · p95 ${fmtMs(e.p95_ms)}`;
      const title = `${e.from} → ${e.to}: ${fmtCount(e.requests)} requests, ${fmtCount(e.errors)} errors`;
      const path = svg('path', { d, class: ['edge', failing && 'err'], 'marker-end': `url(#${failing ? 'arrow-err' : 'arrow'})`, 'data-from': e.from, 'data-to': e.to },
        svg('title', { text: title }));
      const spot = freeSpot(mid.x, mid.y - 5, label.length * 6.4);
      const text = svg('text', { x: spot.x, y: spot.y, class: ['edge-label', failing && 'err'], 'text-anchor': 'middle' }, svg('title', { text: title }), label);
      // A label may have moved away from its edge to stay readable: pointing at either lights up both.
      for (const part of [path, text]) {
        part.addEventListener('mouseenter', () => { path.classList.add('hot'); text.classList.add('hot'); });
        part.addEventListener('mouseleave', () => { path.classList.remove('hot'); text.classList.remove('hot'); });
      }
      edgeNodes.push(path);
      labelNodes.push(text);
    }
    const nodeNodes = nodes.map((n) => {
      const p = position.get(n.name);
      const display = n.name.length > 22 ? `${n.name.slice(0, 21)}…` : n.name;
      const sub = n.traced === false ? 'not traced' : `${fmtCount(n.span_count)} spans${n.error_count > 0 ? ` · ${fmtCount(n.error_count)} err` : ''}`;
      return svg('g', { class: ['node', n.traced === false && 'untraced', n.error_count > 0 && 'has-error'], 'data-service': n.name, transform: `translate(${p.x},${p.y})` },
        svg('a', { href: searchHref({ service: n.name, since: sinceValue }), 'aria-label': `${n.name}: ${sub}; search its traces` },
          svg('title', { text: n.name }),
          svg('rect', { width: W, height: H, rx: 7, class: 'node-box', style: { '--hue': serviceHue(n.name) } }),
          svg('rect', { width: 5, height: H - 10, x: 5, y: 5, rx: 2, class: 'node-stripe', style: { '--hue': serviceHue(n.name) } }),
          svg('text', { x: 18, y: 20, class: 'node-name' }, display),
          svg('text', { x: 18, y: 37, class: ['node-sub', n.error_count > 0 && 'err'] }, sub)));
    });
    return svg('svg', {
      id: 'service-map', width, height, viewBox: `0 0 ${width} ${height}`,
      style: { '--natural-width': `${width}px` },
      role: 'img', 'aria-label': `Service map: ${nodes.length} services, ${edges.length} calls`,
    },
      svg('defs', null, marker('arrow', 'arrow-head'), marker('arrow-err', 'arrow-head err')),
      svg('g', { class: 'edges' }, edgeNodes), svg('g', { class: 'nodes' }, nodeNodes), svg('g', { class: 'labels' }, labelNodes));
  }

  const load = makeLoader(ctx, loadError, () => api('/api/service-map', new URLSearchParams({ since: sinceValue })), render);
  load(true);
  return { refresh: () => load(false) };
}

// ---------------------------------------------------------------- RED

/** The three measures RED charts show, each from a field of /api/red/series's points. */
const RED_MEASURES = [
  { id: 'rate', key: 'rate_per_second', title: 'Requests per second', format: (v) => `${fmtRate(v)}/s` },
  // A bucket without requests has no error rate: a gap, not a 0 %.
  // At least 0-4 %: a chart without errors reads as flat at zero, not as a scale of 25 %.
  { id: 'errors', key: 'error_rate', title: 'Error rate', format: fmtPct, onlyWithRequests: true, yMin: 0.04 },
  { id: 'p95', key: 'p95_ms', title: 'p95 duration', format: fmtMs },
];

/** A service's line colour: its hue, as its chips and bars have. */
function serviceColor(name) {
  return `hsl(${serviceHue(name)} 62% 48%)`;
}

/**
 * The three RED charts of an /api/red/series answer, one line per series, side by side in
 * `host` (ids `${prefix}-rate`, `-errors`, `-p95`). `highlight` names a series drawn bold.
 */
function redCharts(host, prefix, body, highlight) {
  const step = (body.step_seconds || 0) * 1000;
  const series = Array.isArray(body.series) ? body.series : [];
  const cards = RED_MEASURES.map((measure) => {
    const chart = svg('svg', { id: `${prefix}-${measure.id}`, class: 'red-chart', 'data-measure': measure.id });
    return { measure, chart, card: el('figure', { class: 'chart-card' }, el('figcaption', { class: 'chart-title', text: measure.title }), chart) };
  });
  fill(host, el('div', { class: 'chart-grid' }, cards.map((c) => c.card)));
  if (!window.TdChart) {
    fill(host, errorBox({ message: 'the charts did not load (/assets/chart.js)' }));
    return;
  }
  // Drawn at the size they are shown, so the labels keep their size.
  const width = Math.max(280, Math.round(cards[0].card.clientWidth - 16) || 420);
  for (const { measure, chart } of cards) {
    TdChart.line(chart, {
      width,
      height: 170,
      label: `${measure.title} over time`,
      formatY: measure.format,
      yMin: measure.yMin,
      highlight,
      empty: 'no requests in the window',
      series: series.map((s) => ({
        name: s.operation ? s.operation : s.service,
        color: serviceColor(s.service),
        // A point stands at its bucket's end: the newest is now.
        points: (s.points || []).map((p) => ({
          x: p.start_unix_nanos / 1e6 + step,
          y: measure.onlyWithRequests && !p.requests ? null : p[measure.key],
        })),
      })),
    });
  }
}

function redView(ctx) {
  const sinceValue = ctx.params.get('since') || '15m';
  const serviceValue = ctx.params.get('service') || '';
  // The endpoint whose series are charted, kept in the address so a link opens it.
  let chosen = ctx.params.get('endpoint_service') && ctx.params.get('endpoint')
    ? { service: ctx.params.get('endpoint_service'), operation: ctx.params.get('endpoint') }
    : null;
  // The service a person pointed at in the charts' legend.
  let highlighted = null;
  let lastSeries = null;
  const service = el('select', { id: 'f-service' });
  fillSelect(service, serviceOptions([], 'All services'), serviceValue);
  const since = windowSelect(sinceValue);
  const go = () => {
    const params = new URLSearchParams();
    if (service.value) params.set('service', service.value);
    params.set('since', since.value);
    navigate('/red', params);
  };
  service.addEventListener('change', go);
  since.addEventListener('change', go);
  const loadError = el('div');
  const chartsError = el('div');
  const endpointError = el('div');
  const charts = el('section', { class: 'block', id: 'red-charts', 'aria-label': 'Rate, errors and duration over time, per service' });
  const chartsBody = el('div');
  const legend = el('div', { class: 'chart-legend', role: 'group', 'aria-label': 'Services: choose one to bring its line forward' });
  charts.append(el('h2', null, 'Over time', el('span', { class: 'hint', text: ' per service: its SERVER and CONSUMER spans; choose an endpoint below for its own' })), chartsBody, legend);
  const endpointCharts = el('section', { class: 'block', id: 'red-endpoint-charts', 'aria-label': 'The chosen endpoint over time', hidden: true });
  const services = el('section', { class: 'block', 'aria-label': 'Services' });
  const endpoints = el('section', { class: 'block', 'aria-label': 'Endpoints' });
  const queries = el('section', { class: 'block', 'aria-label': 'Database queries' });
  const serviceSort = { key: null, desc: true };
  const endpointSort = { key: null, desc: true };
  const querySort = { key: null, desc: true };
  ctx.root.append(el('div', { class: 'toolbar' }, el('h1', { text: 'Rate, errors, duration' }), field('Service', service).row, field('Window', since).row),
    loadError, chartsError, charts, endpointError, endpointCharts, services, endpoints, queries);
  fetchServices().then((list) => ctx.alive() && fillSelect(service, serviceOptions(list, 'All services'), serviceValue));

  const isChosen = (r) => Boolean(chosen) && chosen.service === r.service && chosen.operation === r.operation;

  /** Charts an endpoint (or stops, when it is the one charted), keeping the choice in the address. */
  function choose(row) {
    chosen = row && !isChosen(row) ? { service: row.service, operation: row.operation } : null;
    const { params } = parseHash();
    params.delete('endpoint_service');
    params.delete('endpoint');
    if (chosen) {
      params.set('endpoint_service', chosen.service);
      params.set('endpoint', chosen.operation);
    }
    history.replaceState(null, '', hashLink('/red', params));
    for (const tr of endpoints.querySelectorAll('#red-endpoints tbody tr')) {
      const on = isChosen({ service: tr.dataset.service, operation: tr.dataset.operation });
      tr.classList.toggle('selected', on);
      const button = tr.querySelector('button.chart-button');
      if (button) button.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
    drawServiceCharts();
    if (!chosen) {
      endpointCharts.hidden = true;
      fill(endpointCharts);
      fill(endpointError);
      return;
    }
    endpointCharts.hidden = false;
    fill(endpointCharts, el('p', { class: 'muted', text: `Loading ${chosen.service} ${chosen.operation}\u2026` }));
    loadEndpoint(true).then(() => ctx.alive() && endpointCharts.scrollIntoView({ block: 'nearest' }));
  }

  function drawServiceCharts() {
    if (!lastSeries) return;
    const bold = highlighted || (chosen && chosen.service) || null;
    redCharts(chartsBody, 'red-chart', lastSeries, bold);
    const names = (lastSeries.series || []).map((s) => s.service);
    fill(legend, names.map((name) => el('button', {
      type: 'button', class: 'legend-button', 'aria-pressed': name === bold ? 'true' : 'false',
      title: name === highlighted ? 'Show every service alike' : `Bring ${name} forward`,
      on: {
        click: () => {
          highlighted = highlighted === name ? null : name;
          drawServiceCharts();
        },
      },
    }, serviceChip(name))));
  }

  function renderSeries(body, error) {
    if (error) {
      lastSeries = null;
      fill(chartsBody);
      fill(legend);
      return;
    }
    lastSeries = body;
    drawServiceCharts();
  }

  function renderEndpoint(body, error) {
    if (!chosen) return;
    const close = el('button', { type: 'button', class: 'close', 'aria-label': 'Stop charting this endpoint', text: '×', on: { click: () => choose(null) } });
    const head = el('div', { class: 'chart-head' },
      el('h2', null, 'Endpoint ', serviceChip(chosen.service), el('span', { class: 'op', text: chosen.operation }),
        el('span', { class: 'hint', text: ` · step ${body && body.step_seconds ? `${body.step_seconds}s` : '–'}` })), close);
    if (error) {
      fill(endpointCharts, head);
      return;
    }
    const chartsHost = el('div');
    fill(endpointCharts, head, chartsHost);
    redCharts(chartsHost, 'red-endpoint-chart', body, null);
  }

  function render(body, error) {
    if (error) {
      fill(services);
      fill(endpoints);
      fill(queries);
      return;
    }
    const svcs = Array.isArray(body.services) ? body.services : [];
    const eps = Array.isArray(body.endpoints) ? body.endpoints : [];
    const qs = Array.isArray(body.queries) ? body.queries : [];
    fill(services, el('h2', null, 'Services', el('span', { class: 'count', text: ` ${svcs.length}` }),
      el('span', { class: 'hint', text: ' every SERVER and CONSUMER span of the service together' })),
    svcs.length ? dataTable('red-services', 'Services', [
      { key: 'service', label: 'Service', value: (r) => r.service, cell: (r) => el('a', { href: searchHref({ service: r.service, since: sinceValue }) }, serviceChip(r.service)) },
      { key: 'rate', label: 'Req/s', num: true, value: (r) => r.rate_per_second, cell: (r) => el('span', { title: `${fmtCount(r.requests)} requests`, text: fmtRate(r.rate_per_second) }) },
      { key: 'error_rate', label: 'Error %', num: true, value: (r) => r.error_rate, cell: (r) => errorRate(r.error_rate, `${fmtCount(r.errors)} errors`) },
      { key: 'p50', label: 'p50', num: true, value: (r) => r.p50_ms, cell: (r) => fmtMs(r.p50_ms) },
      { key: 'p95', label: 'p95', num: true, value: (r) => r.p95_ms, cell: (r) => fmtMs(r.p95_ms) },
      { key: 'p99', label: 'p99', num: true, value: (r) => r.p99_ms, cell: (r) => fmtMs(r.p99_ms) },
    ], svcs, serviceSort) : emptyBox(`No service${inNamespace()} served a request in the last ${sinceValue}.`));
    fill(endpoints, el('h2', null, 'Endpoints', el('span', { class: 'count', text: ` ${eps.length}` }),
      el('span', { class: 'hint', text: ' SERVER and CONSUMER spans, by service and name; most total time first; choose a row to chart it' })),
    eps.length ? dataTable('red-endpoints', 'Endpoints', [
      {
        key: 'chart', label: 'Chart',
        cell: (r) => el('button', {
          type: 'button', class: 'chart-button', 'aria-pressed': isChosen(r) ? 'true' : 'false',
          'aria-label': `Chart ${r.service} ${r.operation} over time`, text: 'chart',
          on: { click: (event) => { event.stopPropagation(); choose(r); } },
        }),
      },
      { key: 'service', label: 'Service', value: (r) => r.service, cell: (r) => serviceChip(r.service) },
      {
        key: 'operation', label: 'Operation', value: (r) => r.operation,
        cell: (r) => el('a', { href: searchHref({ service: r.service, operation: r.operation, since: sinceValue }), text: r.operation }),
      },
      { key: 'kind', label: 'Kind', value: (r) => r.kind, cell: (r) => r.kind, cls: 'muted' },
      { key: 'rate', label: 'Req/s', num: true, value: (r) => r.rate_per_second, cell: (r) => el('span', { title: `${fmtCount(r.requests)} requests`, text: fmtRate(r.rate_per_second) }) },
      { key: 'error_rate', label: 'Error %', num: true, value: (r) => r.error_rate, cell: (r) => errorRate(r.error_rate, `${fmtCount(r.errors)} errors`) },
      { key: 'p50', label: 'p50', num: true, value: (r) => r.p50_ms, cell: (r) => fmtMs(r.p50_ms) },
      { key: 'p95', label: 'p95', num: true, value: (r) => r.p95_ms, cell: (r) => fmtMs(r.p95_ms) },
      { key: 'p99', label: 'p99', num: true, value: (r) => r.p99_ms, cell: (r) => fmtMs(r.p99_ms) },
      { key: 'max', label: 'Max', num: true, value: (r) => r.max_ms, cell: (r) => fmtMs(r.max_ms) },
    ], eps, endpointSort, {
      rowAttrs: (r) => ({
        class: ['clickable', isChosen(r) && 'selected'],
        'data-service': r.service,
        'data-operation': r.operation,
        on: {
          click: (event) => {
            // The row's link goes to the search; anywhere else on the row charts it.
            if (!event.target.closest('a, button')) choose(r);
          },
        },
      }),
    }) : emptyBox(`No endpoint${inNamespace()} served a request in the last ${sinceValue}.`));
    fill(queries, el('h2', null, 'Database queries', el('span', { class: 'count', text: ` ${qs.length}` }),
      el('span', { class: 'hint', text: ' by service and query text; calls per trace well above 1 is the mark of N+1 queries' })),
    qs.length ? dataTable('red-queries', 'Database queries', [
      { key: 'service', label: 'Service', value: (r) => r.service, cell: (r) => serviceChip(r.service) },
      { key: 'system', label: 'System', value: (r) => r.db_system, cell: (r) => r.db_system, cls: 'muted' },
      { key: 'query', label: 'Query', value: (r) => r.query, cls: 'query-cell', cell: (r) => [
        el('code', { class: 'query', text: r.query }),
        el('a', { class: 'small-link', href: searchHref({ service: r.service, attr: `db.query.text=${r.query}`, since: sinceValue }), text: 'traces' })] },
      { key: 'calls', label: 'Calls', num: true, value: (r) => r.calls, cell: (r) => fmtCount(r.calls) },
      {
        key: 'cpt', label: 'Calls/trace', num: true, value: (r) => r.calls_per_trace,
        // Many calls of one query per request is how N+1 shows: say so.
        cell: (r) => el('span', {
          class: r.calls_per_trace >= 3 ? 'badge warn' : null,
          title: r.calls_per_trace >= 3 ? 'many calls per trace: N+1?' : null,
          text: isNum(r.calls_per_trace) ? r.calls_per_trace.toFixed(1) : '–',
        }),
      },
      { key: 'error_rate', label: 'Error %', num: true, value: (r) => r.error_rate, cell: (r) => errorRate(r.error_rate) },
      { key: 'p50', label: 'p50', num: true, value: (r) => r.p50_ms, cell: (r) => fmtMs(r.p50_ms) },
      { key: 'p95', label: 'p95', num: true, value: (r) => r.p95_ms, cell: (r) => fmtMs(r.p95_ms) },
      { key: 'p99', label: 'p99', num: true, value: (r) => r.p99_ms, cell: (r) => fmtMs(r.p99_ms) },
      { key: 'total', label: 'Total', num: true, value: (r) => r.total_ms, cell: (r) => fmtMs(r.total_ms) },
    ], qs, querySort) : emptyBox(`No database query${inNamespace()} in the last ${sinceValue}.`));
  }

  const windowParams = () => {
    const params = new URLSearchParams({ since: sinceValue });
    if (serviceValue) params.set('service', serviceValue);
    return params;
  };
  const load = makeLoader(ctx, loadError, () => api('/api/red', windowParams()), render);
  const loadSeries = makeLoader(ctx, chartsError, () => api('/api/red/series', windowParams()), renderSeries);
  const loadEndpoint = makeLoader(ctx, endpointError, () => {
    const params = new URLSearchParams({ since: sinceValue, service: chosen.service, operation: chosen.operation });
    return api('/api/red/series', params);
  }, renderEndpoint);
  load(true);
  loadSeries(true);
  if (chosen) {
    endpointCharts.hidden = false;
    loadEndpoint(true);
  }
  return { refresh: () => Promise.all([load(false), loadSeries(false), chosen ? loadEndpoint(false) : null]) };
}

// ---------------------------------------------------------------- Errors

function errorsView(ctx) {
  const sinceValue = ctx.params.get('since') || '15m';
  const serviceValue = ctx.params.get('service') || '';
  const operationValue = ctx.params.get('operation') || '';
  let services = [];
  const service = el('select', { id: 'f-service' });
  const operation = el('select', { id: 'f-operation' });
  const since = windowSelect(sinceValue);
  const fillChoices = () => {
    fillSelect(service, serviceOptions(services, 'All services'), serviceValue);
    fillSelect(operation, operationOptions(services, serviceValue, 'All operations'), operationValue);
    operation.disabled = !service.value;
  };
  fillChoices();
  const go = (resetOperation) => {
    const params = new URLSearchParams();
    if (service.value) params.set('service', service.value);
    if (service.value && !resetOperation && operation.value) params.set('operation', operation.value);
    params.set('since', since.value);
    navigate('/errors', params);
  };
  service.addEventListener('change', () => go(true));
  operation.addEventListener('change', () => go(false));
  since.addEventListener('change', () => go(false));
  const loadError = el('div');
  const summary = el('div', { id: 'errors-summary', class: 'stats' });
  const causes = el('section', { class: 'block', 'aria-label': 'Root causes' });
  const attributes = el('section', { class: 'block', 'aria-label': 'Attributes that separate failing requests' });
  const causeSort = { key: null, desc: true };
  const attrSort = { key: null, desc: true };
  ctx.root.append(el('div', { class: 'toolbar' }, el('h1', { text: 'Errors' }), field('Service', service).row, field('Operation', operation).row, field('Window', since).row),
    loadError, summary, causes, attributes);
  fetchServices().then((list) => {
    if (!ctx.alive()) return;
    services = list;
    fillChoices();
  });

  function render(body, error) {
    if (error) {
      fill(summary);
      fill(causes);
      fill(attributes);
      return;
    }
    const total = body.traces || 0;
    const failing = body.failing_traces || 0;
    fill(summary, 
      stat('traces', fmtCount(total)),
      stat('failing traces', fmtCount(failing), failing > 0 ? 'err' : null),
      stat('failing', total ? fmtPct(failing / total) : '–', failing > 0 ? 'err' : null),
      stat('window', `last ${sinceValue}`));
    const rc = Array.isArray(body.root_causes) ? body.root_causes : [];
    const at = Array.isArray(body.attributes) ? body.attributes : [];
    fill(causes, el('h2', null, 'Root causes', el('span', { class: 'count', text: ` ${rc.length}` }),
      el('span', { class: 'hint', text: ' error spans none of whose descendants failed: where the failure began' })),
    rc.length ? dataTable('root-causes', 'Root causes', [
      { key: 'service', label: 'Service', value: (r) => r.service, cell: (r) => serviceChip(r.service) },
      {
        key: 'operation', label: 'Operation', value: (r) => r.operation,
        cell: (r) => el('a', { href: searchHref({ service: r.service, operation: r.operation, errors: 'true', since: sinceValue }), text: r.operation }),
      },
      { key: 'type', label: 'Error type', value: (r) => r.error_type, cell: (r) => el('code', { text: r.error_type || '–' }) },
      { key: 'message', label: 'Message', value: (r) => r.message, cls: 'wrap', cell: (r) => r.message || '–' },
      { key: 'traces', label: 'Traces', num: true, value: (r) => r.traces, cell: (r) => fmtCount(r.traces) },
      {
        key: 'examples', label: 'Examples',
        cell: (r) => el('span', { class: 'examples' }, (r.example_trace_ids || []).slice(0, 5)
          .map((id) => el('a', { class: 'mono', href: traceHref(id), title: id, text: shortId(id) }))),
      },
    ], rc, causeSort) : emptyBox(failing ? 'No root cause found.' : `No failing trace${inNamespace()} in the last ${sinceValue}.`));
    fill(attributes, el('h2', null, 'Attributes that separate failing requests', el('span', { class: 'count', text: ` ${at.length}` }),
      el('span', { class: 'hint', text: ' error rate of traces with the value against those without; most separating first' })),
    at.length ? dataTable('error-attributes', 'Attributes that separate failing requests', [
      { key: 'key', label: 'Key', value: (r) => r.key, cell: (r) => el('code', { text: r.key }) },
      {
        key: 'value', label: 'Value', value: (r) => fmtValue(r.value), cls: 'wrap',
        cell: (r) => [
          el('a', { class: 'mono', href: searchHref({ attr: `${r.key}=${fmtValue(r.value)}`, failing: 'true', since: sinceValue }), text: fmtValue(r.value) }),
          sameAs(r.same_as),
        ],
      },
      {
        key: 'with', label: 'Error rate with', num: true, value: (r) => r.error_rate_with,
        cell: (r) => [errorRate(r.error_rate_with), ofTotal(r.failing_with, r.total_with)],
      },
      {
        key: 'without', label: 'Error rate without', num: true, value: (r) => r.error_rate_without,
        cell: (r) => [errorRate(r.error_rate_without), ofTotal(r.failing_without, r.total_without)],
      },
      { key: 'compare', label: 'With vs without', cell: (r) => el('span', { class: 'compare', 'aria-hidden': 'true' },
        el('span', { class: 'compare-bar err', style: { '--w': `${Math.min(100, (r.error_rate_with || 0) * 100)}%` } }),
        el('span', { class: 'compare-bar', style: { '--w': `${Math.min(100, (r.error_rate_without || 0) * 100)}%` } })) },
    ], at, attrSort) : attributesEmpty(body));
  }

  /** Why no value is ranked: too few failures to tell (the API's own words), or none stands out. */
  function attributesEmpty(body) {
    if (!body.failing_traces) return emptyBox(`No failing trace${inNamespace()} in the last ${sinceValue}.`);
    if (body.too_few_failing_traces && body.note) {
      return emptyBox(`Too few failing traces to tell: ${body.note}.`,
        'Send more traffic or widen the window; a ranking drawn from a handful of failures points at whatever they happen to share.');
    }
    return emptyBox('No attribute value stands out.',
      'A value is ranked once it is in enough failing traces and its error rate is clearly above the rest; ids, full URLs and ports are never ranked.');
  }

  /** The other spellings of a row's fact (`url.path=/checkout` beside `http.route=/checkout`). */
  function sameAs(list) {
    if (!Array.isArray(list) || !list.length) return null;
    return el('div', { class: 'hint same-as' }, 'same as ',
      list.map((s, i) => [i ? ', ' : '', el('code', { text: `${s.key}=${fmtValue(s.value)}` })]));
  }

  const load = makeLoader(ctx, loadError, () => {
    const params = new URLSearchParams({ since: sinceValue });
    if (serviceValue) params.set('service', serviceValue);
    if (serviceValue && operationValue) params.set('operation', operationValue);
    return api('/api/errors', params);
  }, render);
  load(true);
  return { refresh: () => load(false) };
}

// ---------------------------------------------------------------- Customers

/**
 * Which customers were hit, and how badly: the window's requests (each trace's first SERVER
 * span) grouped by the customer attribute, ranked as the API ranks them, the customers whose
 * requests failed (or, with "slower than", were slow) first.
 */
function customersView(ctx) {
  const sinceValue = ctx.params.get('since') || '15m';
  // An incident's window, from a link: start and end in Unix ms.
  const startValue = ctx.params.get('start') || '';
  const endValue = ctx.params.get('end') || '';
  const custom = Boolean(startValue || endValue);
  const slowerValue = ctx.params.get('slower_than') || '';
  const attributeValue = ctx.params.get('attribute') || '';
  const atMs = (text) => (/^\d+$/.test(text) ? fmtTime(Number(text) * 1e6) : text);
  let windowLabel = `the last ${sinceValue}`;
  if (startValue && endValue) windowLabel = `${atMs(startValue)} to ${atMs(endValue)}`;
  else if (startValue) windowLabel = `since ${atMs(startValue)}`;
  else if (endValue) windowLabel = `the ${sinceValue} before ${atMs(endValue)}`;

  const since = el('select', { id: 'f-window' });
  fillSelect(since, [
    ...WINDOWS.map((w) => ({ value: w, label: `last ${w}` })),
    ...(custom ? [{ value: 'custom', label: windowLabel }] : []),
  ], custom ? 'custom' : sinceValue, (w) => `last ${w}`);
  const slower = el('input', { id: 'f-slower', type: 'text', value: slowerValue, placeholder: 'e.g. 500ms', autocomplete: 'off', spellcheck: 'false' });
  const attribute = el('input', { id: 'f-attribute', type: 'text', value: attributeValue, autocomplete: 'off', spellcheck: 'false' });
  const fieldsByParameter = { since, start: since, end: since, slower_than: slower, attribute };
  /** The window of this page, as the API and the search take it. */
  const windowParams = () => {
    const params = new URLSearchParams();
    if (startValue) params.set('start', startValue);
    if (endValue) params.set('end', endValue);
    if (!startValue) params.set('since', sinceValue);
    return params;
  };
  const go = () => {
    const params = new URLSearchParams();
    if (since.value === 'custom') {
      for (const [key, value] of windowParams()) params.set(key, value);
    } else {
      params.set('since', since.value);
    }
    if (slower.value.trim()) params.set('slower_than', slower.value.trim());
    if (attribute.value.trim()) params.set('attribute', attribute.value.trim());
    navigate('/customers', params);
  };
  since.addEventListener('change', go);
  const form = el('form', { id: 'customers-form', class: 'toolbar', 'aria-label': 'Customers: window and filters', novalidate: true },
    el('h1', { text: 'Customers' }),
    field('Window', since).row,
    field('Slower than', slower).row,
    field('Customer attribute', attribute).row,
    el('button', { type: 'submit', class: 'primary', text: 'Apply' }),
    el('div', { class: 'hint', text: 'A request is the first SERVER span of a trace; it is affected when it failed, or took longer than "slower than" when that is set.' }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go();
  });
  const loadError = el('div');
  const summary = el('div', { id: 'customers-summary', class: 'stats' });
  const table = el('section', { class: 'block', id: 'customers', 'aria-label': 'Customers, the most affected first', 'aria-busy': 'true' });
  const without = el('p', { id: 'without-customer', class: 'hint' });
  const sort = { key: null, desc: true };
  ctx.root.append(form, loadError, summary, table, without);

  /**
   * A search over this page's window, for the traces behind a number. The search reads
   * `since` as going back from now, so a window ending earlier is given by its start.
   */
  const searchOf = (fields) => {
    const all = { ...fields };
    const back = durationMs(sinceValue);
    if (endValue && !startValue && back !== null) {
      Object.assign(all, { start: String(Math.max(0, Number(endValue) - Math.round(back))), end: endValue });
    } else {
      for (const [key, value] of windowParams()) all[key] = value;
    }
    return searchHref(all);
  };

  function render(body, error) {
    for (const input of [since, slower, attribute]) input.removeAttribute('aria-invalid');
    table.removeAttribute('aria-busy');
    if (error) {
      const input = fieldsByParameter[error.parameter];
      if (input) input.setAttribute('aria-invalid', 'true');
      fill(summary);
      fill(table);
      fill(without);
      return;
    }
    const key = String(body.attribute || '');
    // The configured attribute shows through until the person types another.
    attribute.placeholder = key;
    const rows = Array.isArray(body.customers) ? body.customers : [];
    const slowShown = Boolean(slowerValue);
    const affected = body.affected_requests || 0;
    fill(summary,
      stat('requests', fmtCount(body.requests)),
      stat(slowerValue ? 'failed or slow' : 'failed', fmtCount(affected), affected > 0 ? 'err' : null),
      stat('customers', fmtCount(body.customer_count)),
      stat('customer attribute', key),
      stat('window', windowLabel));
    const missing = body.without_customer || {};
    fill(without, missing.requests
      ? `${fmtCount(missing.requests)} request${missing.requests === 1 ? '' : 's'} (${fmtCount(missing.errors)} failed) carried no ${key}; they are not in the table.`
      : null);
    const heading = el('h2', null, 'Customers', el('span', { class: 'count', text: ` ${rows.length}` }),
      body.customer_count > rows.length ? el('span', { class: 'hint', text: ` of ${fmtCount(body.customer_count)}` }) : null,
      el('span', { class: 'hint', text: ' the most affected requests first, then the highest error rate' }));
    if (!body.requests) {
      fill(table, heading, emptyBox(`No request${inNamespace()} in ${windowLabel}.`,
        'A request is the first SERVER span of a trace: widen the window, or check that your services export to this explorer.'));
      return;
    }
    if (!rows.length) {
      fill(table, heading, emptyBox(`No request${inNamespace()} in ${windowLabel} carried ${key}.`,
        'Name the attribute your application records its customers in above, or start the explorer with --customer-attribute KEY.'));
      return;
    }
    const ranked = rows.map((row, index) => ({ ...row, rank: index + 1 }));
    const filter = (row) => `${key}=${row.customer}`;
    fill(table, heading, dataTable('customers-table', 'Customers, the most affected first', [
      { key: 'rank', label: '#', num: true, value: (r) => r.rank, cell: (r) => String(r.rank) },
      {
        key: 'customer', label: 'Customer', value: (r) => r.customer, cls: 'wrap',
        cell: (r) => el('a', { class: 'customer-link', href: searchOf({ attr: filter(r) }), title: `Traces of ${r.customer}`, text: r.customer }),
      },
      { key: 'requests', label: 'Requests', num: true, value: (r) => r.requests, cell: (r) => fmtCount(r.requests) },
      {
        key: 'errors', label: 'Failed', num: true, value: (r) => r.errors,
        cell: (r) => (r.errors > 0
          ? el('a', { class: 'err failing-link', href: searchOf({ attr: filter(r), failing: 'true' }), title: `Failing traces of ${r.customer}`, text: fmtCount(r.errors) })
          : '0'),
      },
      { key: 'error_rate', label: 'Error %', num: true, value: (r) => r.error_rate, cell: (r) => errorRate(r.error_rate) },
      { key: 'p95', label: 'p95', num: true, value: (r) => r.p95_ms, cell: (r) => fmtMs(r.p95_ms) },
      slowShown ? { key: 'slow', label: `Slower than ${slowerValue}`, num: true, value: (r) => r.slow, cell: (r) => fmtCount(r.slow) } : null,
      { key: 'affected', label: 'Affected', num: true, value: (r) => r.affected, cell: (r) => el('span', { class: r.affected > 0 ? 'err' : null, text: fmtCount(r.affected) }) },
      {
        key: 'share', label: 'Share of impact', num: true, value: (r) => r.impact_share,
        cell: (r) => el('span', { class: 'share' }, el('span', { text: fmtPct(r.impact_share) }),
          r.impact_share > 0 ? el('span', { class: 'share-bar', 'aria-hidden': 'true', style: { '--w': `${Math.min(100, r.impact_share * 100)}%` } }) : null),
      },
      { key: 'endpoints', label: 'Top endpoints', cls: 'endpoints-cell', cell: (r) => topEndpoints(r) },
      {
        key: 'examples', label: 'Examples',
        cell: (r) => el('span', { class: 'examples' }, (r.example_trace_ids || [])
          .map((id) => el('a', { class: 'mono', href: traceHref(id), title: id, text: shortId(id) }))),
      },
    ].filter(Boolean), ranked, sort, { rowAttrs: (r) => ({ 'data-customer': r.customer }) }));
  }

  /** The customer's three most used endpoints; the rest are named in the cell's title. */
  function topEndpoints(row) {
    const list = Array.isArray(row.endpoints) ? row.endpoints : [];
    const line = (e) => `${e.service} ${e.operation}: ${fmtCount(e.requests)} requests, ${fmtCount(e.errors)} failed`;
    return el('ul', { class: 'endpoint-list', title: list.map(line).join('\n') }, list.slice(0, 3).map((e) => el('li', null,
      serviceChip(e.service), el('span', { class: 'op', text: e.operation }),
      el('span', { class: ['chip-count', e.errors > 0 && 'err'], text: e.errors > 0 ? ` ${fmtCount(e.requests)} · ${fmtCount(e.errors)} failed` : ` ${fmtCount(e.requests)}` }))),
    list.length > 3 ? el('li', { class: 'muted', text: `+${list.length - 3} more` }) : null);
  }

  const load = makeLoader(ctx, loadError, () => {
    const params = windowParams();
    if (slowerValue) params.set('slower_than', slowerValue);
    if (attributeValue) params.set('attribute', attributeValue);
    return api('/api/customers', params);
  }, render);
  load(true);
  return { refresh: () => load(false) };
}

// ---------------------------------------------------------------- namespace filter

/**
 * The service.namespace the page is narrowed to, from the page's own query string
 * (`/?namespace=alice`), not from the fragment: the tabs and every link between views change
 * only the fragment, so the filter stays whatever view a person moves to, and a link such as
 * http://127.0.0.1:8090/?namespace=alice opens the explorer already filtered.
 */
function currentNamespace() {
  return new URLSearchParams(location.search).get('namespace') || '';
}

/** " in namespace “alice”" when the page is filtered, for messages about what is missing. */
function inNamespace() {
  const namespace = currentNamespace();
  return namespace ? ` in namespace \u201c${namespace}\u201d` : '';
}

let lastNamespaces = null;

/** Fills the header's namespace choice from the store; the current one stays even when it has no spans now. */
async function loadNamespaces() {
  const select = $('namespace');
  let names;
  try {
    const { body } = await api('/api/namespaces');
    names = Array.isArray(body.namespaces) ? body.namespaces.map((n) => String(n.name)) : [];
  } catch {
    names = lastNamespaces ? JSON.parse(lastNamespaces) : [];
  }
  const current = currentNamespace();
  const text = JSON.stringify(names);
  // Refilling closes a list someone has open: only when something changed.
  if (text === lastNamespaces && select.value === current) return;
  lastNamespaces = text;
  fillSelect(select, [{ value: '', label: 'all' }, ...names.map((name) => ({ value: name, label: name }))], current);
  select.closest('.namespace-filter').classList.toggle('active', Boolean(current));
}

/** Narrows the page to `name` (all namespaces when empty), in the URL so it can be shared. */
function setNamespace(name) {
  const url = new URL(location.href);
  if (name) url.searchParams.set('namespace', name);
  else url.searchParams.delete('namespace');
  history.pushState(null, '', url.href);
  route();
}

// ---------------------------------------------------------------- header: status, links, live

let lastLinks = null;

async function loadStatus() {
  const line = $('status');
  try {
    const { body } = await api('/api/status');
    const parts = [`${fmtCount(body.spans_stored)} spans`];
    if (isNum(body.traces_stored)) parts.push(`${fmtCount(body.traces_stored)} traces`);
    const dropped = (body.spans_rejected || 0);
    if (isNum(body.spans_rejected)) parts.push(`${fmtCount(dropped)} dropped`);
    if (isNum(body.spans_evicted)) parts.push(`${fmtCount(body.spans_evicted)} evicted`);
    line.textContent = parts.join(' · ');
    line.classList.toggle('warn', dropped > 0);
    const memory = isNum(body.bytes_stored) ? `; ${fmtBytes(body.bytes_stored)} of ${fmtBytes(body.max_bytes)}` : '';
    line.title = `${fmtCount(body.spans_received)} spans received${memory}; `
      + `${fmtCount(body.traces_evicted)} traces evicted to stay within the bounds; `
      + `${fmtCount(body.rejected_requests)} export requests refused`;
    renderLinks(Array.isArray(body.links) ? body.links : []);
    renderExports(Array.isArray(body.exports) ? body.exports : []);
  } catch (error) {
    line.textContent = error.status === 0 ? 'explorer unreachable' : `status: ${error.message}`;
    line.classList.add('warn');
  }
}

// Other destinations of the same spans (the user's backend), as `up` reports them: one badge
// each, green while exports are delivered, red with the failure in words while they fail.
function renderExports(exports) {
  fill($('exports'), exports.map((d) => {
    const failing = Boolean(d.failing);
    const label = failing
      ? `backend ✗ ${d.last_failure_kind || 'failing'} · ${fmtCount(d.spans_lost)} lost`
      : `backend ✓ ${fmtCount(d.spans_sent)} sent${d.spans_lost ? ` · ${fmtCount(d.spans_lost)} lost` : ''}`;
    const title = [`${d.destination}: ${fmtCount(d.spans_sent)} spans sent, ${fmtCount(d.spans_lost)} lost`];
    if (d.last_failure) title.push(`${failing ? 'failing' : 'last failure'}: ${d.last_failure}`);
    return el('span', { class: failing ? 'export bad' : 'export ok', title: title.join('\n'), text: label });
  }));
}

function renderLinks(links) {
  const text = JSON.stringify(links);
  if (text === lastLinks) return;
  lastLinks = text;
  const safe = links.filter((link) => {
    try {
      const url = new URL(String(link.url));
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  });
  fill($('links'), safe.map((link) => el('a', { href: new URL(String(link.url)).href, target: '_blank', rel: 'noopener noreferrer', text: `${link.name} ↗` })));
}

function markUpdated() {
  const d = new Date();
  const updated = $('updated');
  updated.textContent = `updated ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  updated.dataset.at = String(d.getTime());
}

// ---------------------------------------------------------------- router and live refresh

const VIEWS = { search: searchView, trace: traceView, map: mapView, red: redView, errors: errorsView, customers: customersView };

const app = { name: null, view: null, generation: 0, refreshing: false, key: null, namespace: null };

function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/search';
  const at = hash.indexOf('?');
  const path = at < 0 ? hash : hash.slice(0, at);
  const query = at < 0 ? '' : hash.slice(at + 1);
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, params: new URLSearchParams(query) };
}

function route() {
  const { parts, params } = parseHash();
  const name = parts[0] || 'search';
  // Same page, new parameters (a search submitted): let the view keep its DOM. Another
  // namespace is another page: everything on it was of the old one.
  const key = parts.join('/');
  const namespace = currentNamespace();
  if (app.namespace !== namespace) {
    app.namespace = namespace;
    app.key = null;
    loadNamespaces();
  }
  if (app.view && app.key === key && app.view.update) {
    app.view.update(params);
    return;
  }
  app.generation += 1;
  const generation = app.generation;
  const root = $('view');
  fill(root);
  for (const tab of document.querySelectorAll('.tabs a')) {
    if (tab.dataset.tab === name || (name === 'trace' && tab.dataset.tab === 'search')) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  app.name = name;
  app.key = key;
  const view = VIEWS[name];
  document.title = `${name === 'trace' ? `trace ${shortId(parts[1] || '')}` : name}${namespace ? ` · ${namespace}` : ''} · tracedojo explorer`;
  if (!view) {
    app.view = null;
    root.append(emptyBox(`There is no page called “${name}”.`, 'Choose one of the tabs above.'));
    return;
  }
  const ctx = { root, params, parts, alive: () => generation === app.generation };
  app.view = view(ctx);
}

async function tick() {
  if (!$('live').checked || document.hidden || app.refreshing) return;
  app.refreshing = true;
  try {
    await Promise.all([loadStatus(), loadNamespaces(), app.view && app.view.refresh ? app.view.refresh() : null]);
  } finally {
    app.refreshing = false;
  }
}

function start() {
  const live = $('live');
  try {
    live.checked = localStorage.getItem('tracedojo.live') !== 'off';
  } catch {
    live.checked = true;
  }
  live.addEventListener('change', () => {
    try {
      localStorage.setItem('tracedojo.live', live.checked ? 'on' : 'off');
    } catch {
      // storage may be disabled; the switch still works for this page
    }
    if (live.checked) tick();
  });
  window.addEventListener('hashchange', route);
  // Back and forward across a namespace change (pushState) fire no hashchange.
  window.addEventListener('popstate', () => {
    if (currentNamespace() !== app.namespace) route();
  });
  $('namespace').addEventListener('change', (event) => setNamespace(event.target.value));
  loadStatus();
  route();
  setInterval(tick, 5000);
}

start();
