// tracedojo's charts: a time-series line chart and a duration scatter plot drawn as SVG, in
// plain JavaScript with no dependency and no build step, for any page of the kit (the
// explorer, the booth's kiosk). It defines one global:
//
//   TdChart.line(svgElement, options)     lines over time, one per series
//   TdChart.scatter(svgElement, options)  one dot per item: time across, duration up
//
// Both draw into an existing <svg> element (its children are replaced) and return it. The
// drawing is `width` x `height` user units (the element's viewBox); a page makes it fluid
// with CSS (`width: 100%; height: auto`).
//
// Safety: every text (labels, names, titles) is written with textContent and every
// attribute with setAttribute; nothing here turns a string into markup, so a page whose
// content security policy allows scripts and styles only from itself keeps that promise.
// Colours are SVG presentation attributes, which such a policy allows (they are not style
// attributes) and which a page's CSS overrides: every part has a `td-chart-*` class.

(function defineTdChart(global) {
  'use strict';

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const SECOND = 1000;
  const MINUTE = 60 * SECOND;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;
  // Steps of the time axis, in milliseconds; the first that leaves room between labels wins.
  const TIME_STEPS = [SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
    MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
    HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY];
  const PALETTE = ['#3b73d9', '#d9822b', '#2f9e6b', '#c2417a', '#7a5cd6', '#1e9bb0', '#b8a300', '#8a6d3b'];
  const ERROR_COLOR = '#d12f2f';
  const MUTED = 'GrayText';

  /** An SVG element with attributes (null and undefined skipped) and an optional text. */
  function make(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, String(value));
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function isNum(n) {
    return typeof n === 'number' && Number.isFinite(n);
  }

  /** 1, 2 or 5 times a power of ten, at least `rough`. */
  function niceStep(rough) {
    if (!(rough > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(rough));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= rough - 1e-12 * power) return m * power;
    return 10 * power;
  }

  /** Ticks from 0 to a round top at or above `max`, about `count` of them. */
  function valueTicks(max, count) {
    const step = niceStep((max > 0 ? max : 1) / count);
    const top = Math.max(step, Math.ceil(max / step - 1e-9) * step);
    const ticks = [];
    for (let v = 0; v <= top + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
    return { top, ticks };
  }

  const pad2 = (n) => String(n).padStart(2, '0');

  function timeLabel(ms, step) {
    const d = new Date(ms);
    if (step >= DAY) return `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
    const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    return step < MINUTE ? `${hm}:${pad2(d.getSeconds())}` : hm;
  }

  /** Local wall-clock times at a round step between `from` and `to`, at most `most` of them. */
  function timeTicks(from, to, most) {
    const span = Math.max(to - from, 1);
    const step = TIME_STEPS.find((s) => span / s <= most) || Math.ceil(span / most / DAY) * DAY;
    // Round in local time, so an hourly tick lands on the hour in a zone half an hour off UTC.
    const offset = -new Date(from).getTimezoneOffset() * MINUTE;
    const ticks = [];
    for (let t = Math.ceil((from + offset) / step) * step - offset; t <= to; t += step) ticks.push(t);
    return { step, ticks };
  }

  function defaultFormat(unit) {
    return (v) => {
      if (!isNum(v)) return '–';
      const text = Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : String(Number(v.toPrecision(3)));
      return unit ? `${text} ${unit}` : text;
    };
  }

  /** The plot area and the scales from data to drawing. */
  function frame(options, xs, yMax, legendRows) {
    const width = options.width || 560;
    const height = options.height || 180;
    const margin = options.bare
      ? { left: 2, right: 2, top: 2, bottom: 2 }
      : { left: options.marginLeft || 58, right: 14, top: 10, bottom: 24 + legendRows * 16 };
    const plot = {
      left: margin.left,
      top: margin.top,
      width: Math.max(10, width - margin.left - margin.right),
      height: Math.max(10, height - margin.top - margin.bottom),
    };
    const xMin = isNum(options.xMin) ? options.xMin : Math.min(...xs);
    let xMax = isNum(options.xMax) ? options.xMax : Math.max(...xs);
    if (!(xMax > xMin)) xMax = xMin + MINUTE;
    const { top, ticks } = valueTicks(Math.max(yMax, isNum(options.yMin) ? options.yMin : 0), options.yTicks || 4);
    return {
      width,
      height,
      plot,
      xMin,
      xMax,
      yTop: top,
      yTicks: ticks,
      x: (v) => plot.left + ((v - xMin) / (xMax - xMin)) * plot.width,
      y: (v) => plot.top + plot.height - (Math.max(0, v) / top) * plot.height,
    };
  }

  function start(svg, f, label) {
    svg.replaceChildren();
    svg.setAttribute('viewBox', `0 0 ${f.width} ${f.height}`);
    svg.setAttribute('width', f.width);
    svg.setAttribute('height', f.height);
    svg.setAttribute('font-size', '11');
    svg.setAttribute('font-family', 'system-ui, sans-serif');
    svg.classList.add('td-chart');
    if (label) svg.setAttribute('aria-label', label);
  }

  /** Grid lines and the value axis's labels, then the time axis's. */
  function axes(svg, f, formatY) {
    const grid = make('g', { class: 'td-chart-grid', stroke: MUTED, 'stroke-opacity': 0.25 });
    const labels = make('g', { class: 'td-chart-axis', fill: 'currentColor', 'fill-opacity': 0.7 });
    for (const v of f.yTicks) {
      const y = f.y(v);
      grid.append(make('line', { x1: f.plot.left, x2: f.plot.left + f.plot.width, y1: y, y2: y }));
      labels.append(make('text', { x: f.plot.left - 6, y: y + 4, 'text-anchor': 'end' }, formatY(v)));
    }
    const { step, ticks } = timeTicks(f.xMin, f.xMax, Math.max(2, Math.floor(f.plot.width / 80)));
    for (const t of ticks) {
      const x = f.x(t);
      grid.append(make('line', { x1: x, x2: x, y1: f.plot.top, y2: f.plot.top + f.plot.height, 'stroke-dasharray': '2 3' }));
      // A label at either end of the axis is kept inside the drawing.
      const anchor = x > f.plot.left + f.plot.width - 28 ? 'end' : x < f.plot.left + 28 ? 'start' : 'middle';
      labels.append(make('text', { x, y: f.plot.top + f.plot.height + 15, 'text-anchor': anchor }, timeLabel(t, step)));
    }
    const base = make('line', {
      class: 'td-chart-baseline', stroke: MUTED, x1: f.plot.left, x2: f.plot.left + f.plot.width,
      y1: f.plot.top + f.plot.height, y2: f.plot.top + f.plot.height,
    });
    svg.append(grid, labels, base);
  }

  function empty(svg, f, text) {
    svg.append(make('text', {
      class: 'td-chart-empty', x: f.plot.left + f.plot.width / 2, y: f.plot.top + f.plot.height / 2,
      'text-anchor': 'middle', fill: 'currentColor', 'fill-opacity': 0.6,
    }, text || 'no data'));
  }

  /** Names with a swatch of their colour, in rows below the time axis. */
  function legend(svg, f, entries, rows) {
    const g = make('g', { class: 'td-chart-legend', fill: 'currentColor' });
    let x = f.plot.left;
    let row = 0;
    for (const entry of entries) {
      const w = 22 + entry.name.length * 6.2;
      if (x + w > f.plot.left + f.plot.width && x > f.plot.left) {
        row += 1;
        x = f.plot.left;
      }
      if (row >= rows) break;
      const y = f.plot.top + f.plot.height + 30 + row * 16;
      g.append(make('rect', { x, y: y - 8, width: 12, height: 4, fill: entry.color }),
        make('text', { x: x + 16, y: y - 3 }, entry.name));
      x += w;
    }
    svg.append(g);
  }

  function legendRows(names, options) {
    if (!options.legend) return 0;
    const width = (options.width || 560) - (options.marginLeft || 58) - 14;
    let rows = 1;
    let x = 0;
    for (const name of names) {
      const w = 22 + name.length * 6.2;
      if (x + w > width && x > 0) {
        rows += 1;
        x = 0;
      }
      x += w;
    }
    return Math.min(rows, 3);
  }

  /**
   * Lines over time.
   * options: {
   *   series: [{name, points: [{x: Unix ms, y: number or null (a gap)}], color?}],
   *   highlight?: a series name drawn bold, the others faint,
   *   formatY?: (value) => text (else `unit` after the number), unit?: text,
   *   xMin?, xMax?: the time range (else the data's), yMin?: the least top of the value axis,
   *   width?, height?, label?: what the chart shows (for screen readers), empty?: text shown without data,
   *   legend?: true to list the series under the chart,
   *   bare?: true for a sparkline: the lines alone, no axes, labels or legend (a tile read from
   *     across a room, where the figure beside it says the value),
   * }
   */
  function line(svg, options) {
    const opts = options || {};
    const series = (opts.series || []).map((s, i) => ({
      name: String(s.name),
      color: s.color || PALETTE[i % PALETTE.length],
      points: (s.points || []).filter((p) => isNum(p.x)).sort((a, b) => a.x - b.x),
    }));
    const formatY = opts.formatY || defaultFormat(opts.unit);
    const xs = series.flatMap((s) => s.points.map((p) => p.x));
    const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter(isNum);
    const rows = opts.bare ? 0 : legendRows(series.map((s) => s.name), opts);
    const f = frame(opts, xs.length ? xs : [Date.now() - HOUR, Date.now()], ys.length ? Math.max(...ys) : 0, rows);
    start(svg, f, opts.label);
    svg.setAttribute('role', 'img');
    if (!opts.bare) axes(svg, f, formatY);
    if (!ys.length) {
      if (!opts.bare) empty(svg, f, opts.empty);
      return svg;
    }
    const highlighted = series.some((s) => s.name === opts.highlight) ? opts.highlight : null;
    // The highlighted series last, so it is drawn over the others.
    const order = [...series].sort((a, b) => (a.name === highlighted) - (b.name === highlighted));
    const lines = make('g', { class: 'td-chart-lines', fill: 'none', 'stroke-linejoin': 'round', 'stroke-linecap': 'round' });
    for (const s of order) {
      const bold = s.name === highlighted;
      const faint = highlighted && !bold;
      const g = make('g', {
        class: `td-chart-series${bold ? ' td-chart-highlight' : ''}`, 'data-series': s.name,
        stroke: s.color, fill: s.color, opacity: faint ? 0.3 : 1,
      });
      g.append(make('title', null, s.name));
      // A null breaks the line: no value is not a zero.
      let d = '';
      let run = [];
      const flush = () => {
        if (run.length === 1) {
          g.append(make('circle', { class: 'td-chart-point', cx: run[0][0], cy: run[0][1], r: bold ? 3 : 2.2, stroke: 'none' }));
        } else if (run.length > 1) {
          d += `M${run.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join('L')}`;
        }
        run = [];
      };
      for (const p of s.points) {
        if (isNum(p.y)) run.push([f.x(p.x), f.y(p.y)]);
        else flush();
      }
      flush();
      if (d) g.prepend(make('path', { class: 'td-chart-line', d, fill: 'none', 'stroke-width': bold ? 2.6 : 1.6 }));
      lines.append(g);
    }
    svg.append(lines);
    if (rows) legend(svg, f, series, rows);
    hoverReadout(svg, f, series, formatY);
    return svg;
  }

  /** A guide line under the pointer with the time and each series' value there. */
  function hoverReadout(svg, f, series, formatY) {
    const guide = make('line', {
      class: 'td-chart-guide', y1: f.plot.top, y2: f.plot.top + f.plot.height,
      stroke: 'currentColor', 'stroke-opacity': 0.5, visibility: 'hidden', 'pointer-events': 'none',
    });
    const tip = make('g', { class: 'td-chart-tip', visibility: 'hidden', 'pointer-events': 'none' });
    const area = make('rect', {
      class: 'td-chart-hover-area', x: f.plot.left, y: f.plot.top, width: f.plot.width, height: f.plot.height,
      fill: 'transparent',
    });
    const hide = () => {
      guide.setAttribute('visibility', 'hidden');
      tip.setAttribute('visibility', 'hidden');
    };
    area.addEventListener('mouseleave', hide);
    area.addEventListener('mousemove', (event) => {
      const box = svg.getBoundingClientRect();
      if (!box.width) return;
      const x = ((event.clientX - box.left) / box.width) * f.width;
      const at = f.xMin + ((x - f.plot.left) / f.plot.width) * (f.xMax - f.xMin);
      const nearest = (points) => points.reduce((best, p) => (!best || Math.abs(p.x - at) < Math.abs(best.x - at) ? p : best), null);
      const rows = series.map((s) => ({ s, p: nearest(s.points) })).filter((r) => r.p);
      if (!rows.length) return hide();
      const time = rows[0].p.x;
      rows.sort((a, b) => (isNum(b.p.y) ? b.p.y : -Infinity) - (isNum(a.p.y) ? a.p.y : -Infinity));
      const shown = rows.slice(0, 8);
      const gx = f.x(time);
      guide.setAttribute('x1', gx);
      guide.setAttribute('x2', gx);
      guide.setAttribute('visibility', 'visible');
      tip.replaceChildren();
      const lines = [timeLabel(time, SECOND), ...shown.map((r) => `${r.s.name}: ${formatY(r.p.y)}`)];
      const w = Math.max(...lines.map((l) => l.length)) * 6.2 + 12;
      const h = lines.length * 14 + 6;
      const left = gx + 8 + w > f.plot.left + f.plot.width ? gx - 8 - w : gx + 8;
      tip.append(make('rect', { x: left, y: f.plot.top, width: w, height: h, rx: 3, fill: 'Canvas', stroke: MUTED, 'fill-opacity': 0.94 }));
      lines.forEach((text, i) => {
        const entry = i > 0 ? shown[i - 1].s : null;
        tip.append(make('text', { x: left + 6, y: f.plot.top + 14 + i * 14, fill: entry ? entry.color : 'currentColor', 'font-weight': i ? null : 600 }, text));
      });
      tip.setAttribute('visibility', 'visible');
    });
    svg.append(guide, tip, area);
  }

  /**
   * Dots: time across, a duration up.
   * options: {
   *   points: [{x: Unix ms, y: number, error?: boolean, title?: text, id?: text}],
   *   onClick?: (point) => ..., called on a click or Enter on a dot (dots are then focusable),
   *   formatY?, unit?, xMin?, xMax?, yMin?, width?, height?, label?, empty?,
   *   color?: the dots' colour, errorColor?: that of dots with `error`,
   * }
   */
  function scatter(svg, options) {
    const opts = options || {};
    const points = (opts.points || []).filter((p) => isNum(p.x) && isNum(p.y));
    const formatY = opts.formatY || defaultFormat(opts.unit);
    const xs = points.map((p) => p.x);
    const f = frame(opts, xs.length ? xs : [Date.now() - HOUR, Date.now()], points.length ? Math.max(...points.map((p) => p.y)) : 0, 0);
    // Without a given range, the dots' own with a margin, so none sits on an edge, and at
    // least ten seconds: dots a moment apart would otherwise be drawn on top of each other.
    if (points.length && !isNum(opts.xMin) && !isNum(opts.xMax)) {
      const [first, last] = [Math.min(...xs), Math.max(...xs)];
      const margin = Math.max((last - first) * 0.03, (10 * SECOND - (last - first)) / 2, 0);
      return scatter(svg, { ...opts, xMin: first - margin, xMax: last + margin });
    }
    start(svg, f, opts.label);
    svg.setAttribute('role', opts.onClick ? 'group' : 'img');
    axes(svg, f, formatY);
    if (!points.length) {
      empty(svg, f, opts.empty);
      return svg;
    }
    const dots = make('g', { class: 'td-chart-dots' });
    // Failing ones last: drawn on top where dots overlap.
    const ordered = [...points].sort((a, b) => Boolean(a.error) - Boolean(b.error));
    for (const p of ordered) {
      const dot = make('circle', {
        class: `td-chart-dot${p.error ? ' td-chart-error' : ''}`,
        cx: f.x(p.x).toFixed(1), cy: f.y(p.y).toFixed(1), r: opts.radius || 5,
        fill: p.error ? (opts.errorColor || ERROR_COLOR) : (opts.color || PALETTE[0]),
        'fill-opacity': 0.75, stroke: 'Canvas', 'stroke-width': 1,
        'data-id': p.id, 'aria-label': p.title,
      });
      if (p.title) dot.append(make('title', null, p.title));
      if (opts.onClick) {
        dot.setAttribute('tabindex', '0');
        dot.setAttribute('role', 'link');
        dot.setAttribute('cursor', 'pointer');
        dot.addEventListener('click', () => opts.onClick(p));
        dot.addEventListener('keydown', (event) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            opts.onClick(p);
          }
        });
      }
      dots.append(dot);
    }
    svg.append(dots);
    return svg;
  }

  global.TdChart = Object.freeze({ line, scatter });
}(window));
