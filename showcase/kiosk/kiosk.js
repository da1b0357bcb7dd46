// The booth's kiosk page. It reads /api/now every second and draws the act, the countdown,
// the service map with the act's service lit, the trace picked for the act, and each
// service's figures. Values go on the page only through textContent and setAttribute.
// When the server is gone it says so and keeps asking; when the server is back it goes on.
"use strict";

(function () {
  const POLL_MS = 1000;
  const RETRY_MS = 2000;
  const SVG = "http://www.w3.org/2000/svg";

  const LABELS = {
    en: {
      act: "Act", map: "Service map (last {s} s)", trace: "The trace that shows it",
      waiting: "Waiting for a trace of this act…", failing: "failing span", slow: "where the time went",
      spans: "spans", errors: "errors", talk: "Talk track", paused: "PAUSED",
      offline: "Reconnecting to the showcase…", explorer: "Explorer: ",
      faults: "Faults in force: ", noFaults: "No faults in force", loop: "loop",
      keys: "space pause · → next · ← previous · L 日本語 · T talk track",
      perSecond: "req/s", errorRate: "errors", p95: "p95",
      sent: "spans sent", exportFailing: "not fed: ",
    },
    ja: {
      act: "シーン", map: "サービスマップ（直近 {s} 秒）", trace: "問題を示すトレース",
      waiting: "このシーンのトレースを待っています…", failing: "失敗したスパン", slow: "時間のかかったスパン",
      spans: "スパン", errors: "エラー", talk: "トーク台本", paused: "一時停止中",
      offline: "ショーケースに再接続しています…", explorer: "Explorer: ",
      faults: "発生中の障害: ", noFaults: "障害なし", loop: "ループ",
      keys: "スペース 一時停止 · → 次へ · ← 前へ · L English · T トーク台本",
      perSecond: "req/s", errorRate: "エラー率", p95: "p95",
      sent: "スパン送信済み", exportFailing: "送信できていません: ",
    },
  };

  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  let lang = localStorage.getItem("tracedojo.kiosk.lang");
  let last = null;
  let fetchedAt = 0;
  let drawnTrace = "";

  const $ = (id) => document.getElementById(id);
  const text = (el, value) => { if (el.textContent !== value) el.textContent = value; };
  const make = (tag, cls, content) => {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (content !== undefined) el.textContent = content;
    return el;
  };
  const svg = (tag, attrs) => {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return el;
  };
  const headers = (json) => {
    const h = {};
    if (json) h["content-type"] = "application/json";
    if (token) h.authorization = "Bearer " + token;
    return h;
  };
  const labels = () => LABELS[lang] || LABELS.en;

  async function poll() {
    try {
      const response = await fetch("/api/now", { headers: headers(false), cache: "no-store" });
      if (!response.ok) throw new Error("status " + response.status);
      last = await response.json();
      fetchedAt = Date.now();
      if (!lang) lang = last.lang;
      $("offline").hidden = true;
      document.body.dataset.connected = "true";
      draw();
      setTimeout(poll, POLL_MS);
    } catch (err) {
      document.body.dataset.connected = "false";
      text($("offline"), labels().offline);
      $("offline").hidden = false;
      setTimeout(poll, RETRY_MS);
    }
  }

  async function send(command) {
    try {
      await fetch("/api/control", {
        method: "POST", headers: headers(true), body: JSON.stringify({ command }),
      });
    } catch (err) { /* the poll shows the server is gone */ }
  }

  function remainingMs() {
    if (!last) return 0;
    const p = last.playing;
    if (p.paused || p.finished) return p.remaining_ms;
    return Math.max(0, p.remaining_ms - (Date.now() - fetchedAt));
  }

  function clock(ms) {
    const s = Math.ceil(ms / 1000);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function draw() {
    const L = labels();
    const scenario = last.scenario;
    const playing = last.playing;
    const act = scenario.acts[Math.min(playing.act, scenario.acts.length - 1)];
    const texts = act[lang] || act.en;
    document.documentElement.lang = lang;
    document.body.dataset.lang = lang;
    document.body.dataset.act = String(playing.act);
    document.body.dataset.actName = act.name;
    document.body.dataset.loop = String(playing.loop_number);
    document.body.dataset.paused = String(playing.paused);
    text($("scenario"), (scenario[lang] || scenario.en).title);
    text($("act-number"), L.act + " " + (playing.act + 1) + "/" + scenario.acts.length);
    text($("act-name"), act.name);
    text($("caption"), texts.caption);
    text($("faults"), playing.faults.length ? L.faults + playing.faults.join(", ") : L.noFaults);
    text($("talk-title"), L.talk);
    text($("talk-text"), texts.talk);
    text($("paused"), L.paused);
    $("paused").hidden = !playing.paused;
    text($("map-title"), L.map.replace("{s}", String(last.lens.window_seconds || 20)));
    text($("trace-title"), L.trace);
    text($("keys"), L.keys);
    text($("status"), statusLine(L));
    drawExports(last.lens.exports || [], L);
    drawProgress(scenario, playing);
    drawMap(last.lens.map, act.look.service);
    drawTrace(last.lens.trace, playing, L);
    drawServices(last.lens, act.look.service, L);
    tick();
  }

  function statusLine(L) {
    const parts = [L.loop + " " + last.playing.loop_number];
    if (last.speed !== 1) parts.push("×" + last.speed);
    if (last.lens.problem) parts.push(L.explorer + last.lens.problem);
    if (last.playing.trouble) parts.push(last.playing.trouble);
    return parts.join(" · ");
  }

  // The vendor's backend beside the booth's screen: is it fed?
  function drawExports(exports, L) {
    $("exports").replaceChildren(...exports.map((e) => {
      const host = e.destination.replace(/^https?:\/\//, "").split(/[/ ]/)[0];
      const el = make("span", "export" + (e.failing ? " failing" : ""),
        "→ " + host + ": " + (e.failing ? L.exportFailing + (e.last_failure_kind || "?") : e.spans_sent.toLocaleString() + " " + L.sent));
      el.dataset.destination = e.destination;
      return el;
    }));
  }

  function tick() {
    if (last) text($("countdown"), clock(remainingMs()));
  }

  function drawProgress(scenario, playing) {
    const box = $("progress");
    const key = playing.act + "/" + scenario.acts.length;
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.replaceChildren(...scenario.acts.map((a, i) =>
      make("span", "step" + (i === playing.act ? " now" : ""), a.name)));
  }

  // Layers from the callers down: each node one column right of its deepest caller.
  function layout(map) {
    const names = map.nodes.map((n) => n.name);
    const depth = Object.fromEntries(names.map((n) => [n, 0]));
    for (let round = 0; round < names.length; round++) {
      let moved = false;
      for (const e of map.edges) {
        if (e.from in depth && e.to in depth && depth[e.to] < depth[e.from] + 1 && depth[e.from] < names.length) {
          depth[e.to] = depth[e.from] + 1;
          moved = true;
        }
      }
      if (!moved) break;
    }
    const columns = {};
    for (const n of names.sort()) (columns[depth[n]] = columns[depth[n]] || []).push(n);
    const keys = Object.keys(columns).map(Number).sort((a, b) => a - b);
    const place = {};
    keys.forEach((k, ci) => {
      const col = columns[k];
      col.forEach((n, ri) => {
        place[n] = {
          x: 90 + (keys.length === 1 ? 360 : (ci * 720) / (keys.length - 1)),
          y: 60 + ((ri + 0.5) * 420) / col.length,
        };
      });
    });
    return place;
  }

  function drawMap(map, lit) {
    const box = $("map");
    const place = layout(map);
    const children = [];
    for (const e of map.edges) {
      const a = place[e.from], b = place[e.to];
      if (!a || !b) continue;
      const cls = "edge" + (e.error_rate > 0 ? " failing" : "") + (e.to === lit || e.from === lit ? " lit" : "");
      const line = svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: cls });
      line.dataset.from = e.from;
      line.dataset.to = e.to;
      children.push(line);
    }
    for (const n of map.nodes) {
      const p = place[n.name];
      const g = svg("g", {
        class: "node" + (n.name === lit ? " lit" : "") + (n.traced ? "" : " untraced") + (n.error_count > 0 ? " failing" : ""),
      });
      g.dataset.service = n.name;
      g.appendChild(svg("circle", { cx: p.x, cy: p.y, r: n.name === lit ? 30 : 24 }));
      const label = svg("text", { x: p.x, y: p.y + 54 });
      label.textContent = n.name;
      g.appendChild(label);
      children.push(g);
    }
    box.replaceChildren(...children);
  }

  function drawTrace(trace, playing, L) {
    const box = $("waterfall");
    if (!trace) {
      text($("trace-summary"), L.waiting);
      box.replaceChildren();
      box.dataset.traceId = "";
      drawnTrace = "";
      return;
    }
    const summary = trace.root_service + " · " + trace.root_name + " · " + trace.duration_ms.toFixed(0) + " ms · " +
      trace.span_count + " " + L.spans + (trace.error_count ? " · " + trace.error_count + " " + L.errors : "") +
      " · ▶ " + (trace.highlight_reason === "failing" ? L.failing : L.slow);
    text($("trace-summary"), summary);
    const key = trace.trace_id + lang;
    if (drawnTrace === key) return;
    drawnTrace = key;
    box.dataset.traceId = trace.trace_id;
    box.dataset.act = String(trace.act);
    const total = Math.max(trace.duration_ms, 0.001);
    box.replaceChildren(...trace.rows.map((r) => {
      const row = make("div", "row" + (r.error ? " error" : "") + (r.span_id === trace.highlight ? " highlight" : ""));
      row.dataset.spanId = r.span_id;
      row.dataset.service = r.service;
      const label = make("div", "label");
      label.style.paddingLeft = Math.min(r.depth, 8) * 14 + "px";
      label.append(make("span", "service", r.service), make("span", "op", r.name));
      const track = make("div", "track");
      const bar = make("div", "bar");
      const left = (100 * r.offset_ms) / total;
      const width = Math.max((100 * r.duration_ms) / total, 0.2);
      bar.style.left = left + "%";
      bar.style.width = width + "%";
      const ms = make("span", "ms", r.duration_ms >= 10 ? r.duration_ms.toFixed(0) + " ms" : r.duration_ms.toFixed(1) + " ms");
      // A bar reaching the right edge carries its label inside, where there is room.
      if (left + width > 84) {
        ms.classList.add("inside");
        ms.style.right = Math.max(100 - left - width, 0) + 1 + "%";
      } else {
        ms.style.left = left + width + 0.8 + "%";
      }
      track.append(bar, ms);
      row.append(label, track);
      return row;
    }));
  }

  // The tile's p95 over its history: the kit's line chart (chart.js, as the explorer's RED
  // charts), bare, since the figures above it say the values.
  function sparkline(points) {
    const box = svg("svg", {});
    if (!window.TdChart) return box;
    window.TdChart.line(box, {
      bare: true,
      width: 240,
      height: 36,
      label: "p95",
      series: [{ name: "p95", points: points.map((p) => ({ x: p.t_unix_ms, y: p.p95_ms })) }],
    });
    // Stretched to the tile's width, whatever it is.
    box.setAttribute("preserveAspectRatio", "none");
    return box;
  }

  function drawServices(lens, lit, L) {
    const box = $("services");
    const services = lens.services.filter((s) => s.name !== "loadgenerator").slice(0, 8);
    box.replaceChildren(...services.map((s) => {
      const tile = make("div", "tile" + (s.name === lit ? " lit" : "") + (s.error_rate > 0 ? " failing" : ""));
      tile.dataset.service = s.name;
      tile.appendChild(make("div", "name", s.name));
      const figures = make("div", "figures");
      figures.append(
        make("div", "rate", s.rate_per_second.toFixed(1) + " " + L.perSecond),
        make("div", "err", L.errorRate + " " + (100 * s.error_rate).toFixed(1) + " %"),
        make("div", "p95", L.p95 + " " + (s.p95_ms == null ? "—" : s.p95_ms.toFixed(0) + " ms")),
      );
      tile.appendChild(figures);
      tile.appendChild(sparkline(lens.history[s.name] || []));
      return tile;
    }));
  }

  const COMMANDS = {
    " ": "toggle", p: "toggle", P: "toggle",
    ArrowRight: "next", PageDown: "next", n: "next", N: "next",
    ArrowLeft: "previous", PageUp: "previous", b: "previous", B: "previous",
  };

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (key in COMMANDS) send(COMMANDS[key]).then(pollOnce);
    else if (key === "l" || key === "L") {
      lang = lang === "ja" ? "en" : "ja";
      localStorage.setItem("tracedojo.kiosk.lang", lang);
      if (last) draw();
    } else if (key === "t" || key === "T") $("talk").hidden = !$("talk").hidden;
    else if (key === "f" || key === "F") {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen().catch(() => {});
    } else return;
    event.preventDefault();
  });

  async function pollOnce() {
    try {
      const response = await fetch("/api/now", { headers: headers(false), cache: "no-store" });
      if (!response.ok) return;
      last = await response.json();
      fetchedAt = Date.now();
      draw();
    } catch (err) { /* the regular poll reports it */ }
  }

  setInterval(tick, 250);
  poll();
})();
