// The report's script: reads the data document, draws the space-time diagram, the client
// operations and the plots on canvases (only what is in view), and writes a self-check into the
// DOM. Every string from the run goes through textContent or the canvas, never through HTML.
"use strict";
(function () {
  var started = window.performance ? window.performance.now() : 0;
  var D = JSON.parse(document.getElementById("data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  var LOGICAL = !!D.logical_time;
  function fmtTime(ns) {
    if (LOGICAL) { return "#" + Math.round(ns); }
    var s = ns / 1e9;
    if (Math.abs(s) >= 100) { return s.toFixed(1) + "s"; }
    if (Math.abs(s) >= 1) { return s.toFixed(3) + "s"; }
    if (Math.abs(ns) >= 1e6) { return (ns / 1e6).toFixed(2) + "ms"; }
    return (ns / 1e3).toFixed(1) + "µs";
  }
  function fmtDur(ns) { return LOGICAL ? Math.round(ns) + " events" : fmtTime(ns); }
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#7f7f7f", "#3949ab", "#00897b", "#6d4c41", "#5e35b1", "#c0ca33", "#0277bd"];
  var SIDES = ["rgba(33,150,243,0.16)", "rgba(255,152,0,0.20)", "rgba(76,175,80,0.18)",
    "rgba(156,39,176,0.16)", "rgba(0,188,212,0.18)", "rgba(121,85,72,0.18)"];
  var SIDE_NAMES = "ABCDEFGHIJKLMNOP";
  var OUTCOMES = ["in flight", "delivered", "lost (random loss)", "lost (partition)", "lost (node down)"];
  var LOST_COLORS = ["", "", "#e53935", "#f57c00", "#6d4c41"];
  var OP_COLORS = ["#43a047", "#ef9a9a", "#ffb74d"];
  var OP_NAMES = ["ok", "fail", "info"];

  // ---- decode the columnar data ----
  var A = D.arrows, n = A.s.length;
  var S = new Float64Array(n), E = new Float64Array(n), F = new Int32Array(n), T = new Int32Array(n);
  var K = new Int32Array(n), O = new Uint8Array(n), C = new Uint8Array(n);
  var END = D.end || 0, t = 0, i, sorted = true, dropped = 0, copies = 0, inflight = 0;
  for (i = 0; i < n; i++) {
    t += A.s[i]; S[i] = t; E[i] = t + A.d[i]; F[i] = A.f[i]; T[i] = A.t[i]; K[i] = A.k[i];
    O[i] = A.o[i] & 7; C[i] = A.o[i] >> 3;
    if (O[i] === 0) { E[i] = Math.max(END, t); inflight++; }
    if (O[i] >= 2) { dropped++; }
    if (C[i]) { copies++; }
    if (i > 0 && S[i] < S[i - 1]) { sorted = false; }
    if (E[i] > END) { END = E[i]; }
  }
  var M = D.marks, mn = M.t.length, MT = new Float64Array(mn);
  t = 0;
  for (i = 0; i < mn; i++) { t += M.t[i]; MT[i] = t; if (t > END) { END = t; } }
  var P = D.ops, on = P.s.length, opEnd = new Float64Array(on);
  for (i = 0; i < on; i++) {
    opEnd[i] = P.e[i] < 0 ? Math.max(END, P.s[i]) : P.e[i];
    if (opEnd[i] > END && P.e[i] >= 0) { END = opEnd[i]; }
  }
  if (END <= 0) { END = 1; }
  // Arrows by send time; long ones (beyond 1/64 of the run) are checked in every frame.
  var order = new Uint32Array(n);
  for (i = 0; i < n; i++) { order[i] = i; }
  if (!sorted) { order = Uint32Array.from(Array.prototype.slice.call(order).sort(function (a, b) { return S[a] - S[b]; })); }
  var longLimit = END / 64, maxShort = 0, longList = [];
  for (i = 0; i < n; i++) {
    var dur = E[i] - S[i];
    if (dur > longLimit) { longList.push(i); } else if (dur > maxShort) { maxShort = dur; }
  }
  var sendSorted = new Float64Array(n);
  for (i = 0; i < n; i++) { sendSorted[i] = S[order[i]]; }
  function lowerBound(arr, value) {
    var lo = 0, hi = arr.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (arr[mid] < value) { lo = mid + 1; } else { hi = mid; } }
    return lo;
  }

  // ---- windows shaded on the lanes ----
  var nodeCount = D.nodes.length;
  var crashW = [], pauseW = [], clockW = [], sideW = [], netW = [];
  (function () {
    var down = {}, paused = {}, clock = {};
    D.lives.forEach(function (l) {
      var time = l[0], node = l[1], kind = l[2];
      if (kind === "crash") { down[node] = time; }
      if (kind === "restart" && down[node] !== undefined) { crashW.push([node, down[node], time]); delete down[node]; }
      if (kind === "pause") { paused[node] = time; }
      if (kind === "resume" && paused[node] !== undefined) { pauseW.push([node, paused[node], time]); delete paused[node]; }
      if (kind === "clock") {
        if (clock[node]) { clockW.push([node, clock[node][0], time, clock[node][1]]); delete clock[node]; }
        if (l[3] !== 0 || l[4] !== 0) { clock[node] = [time, "offset " + fmtDur(l[3]) + ", drift " + l[4] + " ppm"]; }
      }
    });
    Object.keys(down).forEach(function (k) { crashW.push([+k, down[k], END]); });
    Object.keys(paused).forEach(function (k) { pauseW.push([+k, paused[k], END]); });
    Object.keys(clock).forEach(function (k) { clockW.push([+k, clock[k][0], END, clock[k][1]]); });
    for (var c = 0; c < D.cuts.length; c++) {
      var cut = D.cuts[c];
      if (!cut[1]) { continue; }
      var until = c + 1 < D.cuts.length ? D.cuts[c + 1][0] : END;
      sideW.push({ from: cut[0], to: until, sides: cut[1], links: cut[2] });
    }
    var current = null, since = 0;
    D.networks.forEach(function (nw) {
      if (current !== null) { netW.push([since, nw[0], current]); }
      current = (D.baseline !== null && nw[1] === D.baseline) ? null : nw[1];
      since = nw[0];
    });
    if (current !== null) { netW.push([since, END, current]); }
  })();

  // ---- header ----
  $("title").textContent = D.title;
  var failed = !!D.violation;
  var verdict = $("verdict");
  verdict.textContent = failed ? "FAIL: " + D.violation.check : "PASS";
  verdict.className = failed ? "fail" : "pass";
  D.summary.forEach(function (kv) {
    var tr = el("tr"); tr.appendChild(el("td", kv[0])); tr.appendChild(el("td", kv[1])); $("summary").appendChild(tr);
  });
  D.checks.forEach(function (c) {
    var tr = el("tr", null, c.status === "FAIL" ? "fail" : (c.status === "ok" ? "" : "not-evaluated"));
    tr.appendChild(el("td", c.status)); tr.appendChild(el("td", c.kind)); tr.appendChild(el("td", c.name));
    tr.appendChild(el("td", c.message)); $("checks").appendChild(tr);
  });
  D.faults.forEach(function (f) {
    var tr = el("tr"); tr.appendChild(el("td", "t=" + fmtTime(f[0]))); tr.appendChild(el("td", f[1])); $("faults").appendChild(tr);
  });
  $("command").textContent = D.command;
  if (failed) {
    $("violation-box").hidden = false;
    var names = D.violation.nodes.map(function (x) { return D.nodes[x]; }).join(", ");
    $("violation-head").textContent = D.violation.check + " at t=" + fmtTime(D.violation.t) +
      (names ? " on " + names : "");
    $("violation-text").textContent = D.violation.message;
  }

  // ---- filters ----
  var showNode = [], showKind = [], showMark = [];
  function chip(parent, label, color, onChange) {
    var lab = el("label", null, "chip"), box = el("input");
    box.type = "checkbox"; box.checked = true;
    box.addEventListener("change", function () { onChange(box.checked); draw(); });
    lab.appendChild(box);
    if (color) { var sw = el("span", null, "swatch"); sw.style.background = color; lab.appendChild(sw); }
    lab.appendChild(document.createTextNode(label));
    parent.appendChild(lab);
  }
  D.nodes.forEach(function (name, k) { showNode.push(true); chip($("node-filter"), name, null, function (v) { showNode[k] = v; layout(); }); });
  var kindCount = D.kinds.map(function () { return 0; });
  for (i = 0; i < n; i++) { kindCount[K[i]]++; }
  D.kinds.forEach(function (name, k) { showKind.push(true); chip($("kind-filter"), name + " (" + kindCount[k] + ")", PALETTE[k % PALETTE.length], function (v) { showKind[k] = v; }); });
  var markCount = D.mark_names.map(function () { return 0; });
  for (i = 0; i < mn; i++) { markCount[M.k[i]]++; }
  D.mark_names.forEach(function (name, k) { showMark.push(true); chip($("mark-filter"), name + " (" + markCount[k] + ")", PALETTE[(k + 3) % PALETTE.length], function (v) { showMark[k] = v; }); });
  if (!D.nodes.length) { $("node-filter").hidden = true; }
  if (!D.kinds.length) { $("kind-filter").hidden = true; }
  if (!D.mark_names.length) { $("mark-filter").hidden = true; }
  if (!D.has_trace) {
    ["show-arrows", "show-delivered", "show-dropped", "show-marks"].forEach(function (id) { $(id).parentNode.hidden = true; });
  }
  function flag(id) { return $(id).checked; }
  ["show-arrows", "show-delivered", "show-dropped", "show-marks"].forEach(function (id) { $(id).addEventListener("change", function () { draw(); }); });

  // ---- legend ----
  (function () {
    var lg = $("legend");
    function item(color, text, style) {
      var s = el("span", null, "chip"), sw = el("span", null, "swatch");
      sw.style.background = color; if (style) { sw.style.border = style; }
      s.appendChild(sw); s.appendChild(document.createTextNode(text)); lg.appendChild(s);
    }
    item("rgba(60,60,60,0.35)", "node down (crash → restart)");
    item("rgba(255,193,7,0.45)", "paused");
    item("rgba(156,39,176,0.25)", "clock offset / drift");
    item(SIDES[0], "partition side A"); item(SIDES[1], "side B");
    item("rgba(229,57,53,0.25)", "network degraded (top band)");
    item(LOST_COLORS[2], "✕ lost at random"); item(LOST_COLORS[3], "✕ cut by a partition"); item(LOST_COLORS[4], "✕ to a down node");
    item("#fff", "dashed arrow: duplicate copy or still in flight", "1px dashed #333");
    item("#c62828", "violation (red line, red lanes, thick red: messages its nodes handled at that instant)");
    OP_NAMES.forEach(function (nm, k) { item(OP_COLORS[k], "client operation " + nm); });
    item("#fff", "operation in the linearizability explanation", "2px solid #c62828");
    item("#fff", "in the longest linearizable prefix", "2px solid #1b5e20");
  })();

  // ---- layout ----
  var canvas = $("diagram"), ctx = canvas.getContext("2d");
  var GUTTER = 76, AXIS = 24, BAND = 8, LANE = 42, ROWS_MAX = 160;
  var laneY = [], rowOf = {}, rowKeys = [], rowH = 14, lanesTop = AXIS + BAND, lanesBottom = 0, height = 0;
  (function () {
    var seen = {};
    for (var k = 0; k < on; k++) { var p = P.p[k]; if (!seen[p]) { seen[p] = 1; rowKeys.push(p); } }
    rowKeys.sort(function (a, b) { return a - b; });
    if (rowKeys.length > ROWS_MAX) { rowKeys = rowKeys.slice(0, ROWS_MAX); }
    rowKeys.forEach(function (p, r) { rowOf[p] = r; });
    rowH = rowKeys.length > 40 ? 10 : 16;
  })();
  function layout() {
    var y = lanesTop;
    laneY = [];
    for (var k = 0; k < nodeCount; k++) {
      if (showNode[k]) { laneY.push(y + LANE / 2); y += LANE; } else { laneY.push(-1); }
    }
    lanesBottom = y;
    height = y + (rowKeys.length ? 18 + rowKeys.length * rowH : 0) + 8;
    resize();
  }
  var W = 800, DPR = window.devicePixelRatio || 1;
  function resize() {
    W = Math.max(400, canvas.parentNode.clientWidth - 32 || 800);
    canvas.width = Math.round(W * DPR); canvas.height = Math.round(height * DPR);
    canvas.style.height = height + "px";
    ctx.setTransform(DPR, 0, 0, DPR, 0, 0);
  }

  // ---- the view ----
  var view = { a: 0, b: END };
  function xOf(time) { return GUTTER + (time - view.a) / (view.b - view.a) * (W - GUTTER - 8); }
  function tOf(x) { return view.a + (x - GUTTER) / (W - GUTTER - 8) * (view.b - view.a); }
  function setView(a, b) {
    var span = Math.max(b - a, LOGICAL ? 4 : 1000);
    if (span > END * 1.05) { span = END * 1.05; }
    if (a < -END * 0.02) { a = -END * 0.02; }
    if (a + span > END * 1.03) { a = END * 1.03 - span; }
    view.a = a; view.b = a + span;
    $("from").value = LOGICAL ? Math.round(view.a) : (view.a / 1e9).toFixed(3);
    $("to").value = LOGICAL ? Math.round(view.b) : (view.b / 1e9).toFixed(3);
    draw();
  }
  function zoom(factor, atX) {
    var at = atX === undefined ? (view.a + view.b) / 2 : tOf(atX);
    setView(at - (at - view.a) * factor, at + (view.b - at) * factor);
  }
  function pan(fraction) { var d = (view.b - view.a) * fraction; setView(view.a + d, view.b + d); }
  function violationView() {
    if (!failed) { return false; }
    var span = Math.min(END, Math.max(END / 12, LOGICAL ? 20 : 2e8));
    setView(D.violation.t - span * 0.7, D.violation.t + span * 0.3);
    return true;
  }

  // ---- drawing ----
  var frame = 0, hits = { arrows: [], marks: [], ops: [] }, stats = { arrowsDrawn: 0, stride: 1, violationDrawn: false, highlighted: 0, prefixMarked: 0 };
  function draw() { if (!frame) { frame = window.requestAnimationFrame(function () { frame = 0; paint(); }); } }
  function shade(list, color, labelOf) {
    list.forEach(function (w) {
      var y = laneY[w[0]]; if (y < 0 || y === undefined) { return; }
      if (w[2] < view.a || w[1] > view.b) { return; }
      var x0 = Math.max(GUTTER, xOf(w[1])), x1 = Math.min(W, xOf(w[2]));
      ctx.fillStyle = color; ctx.fillRect(x0, y - LANE / 2 + 1, Math.max(1, x1 - x0), LANE - 2);
      if (labelOf && x1 - x0 > 40) { ctx.fillStyle = "#333"; ctx.font = "10px sans-serif"; ctx.fillText(labelOf(w), x0 + 3, y + LANE / 2 - 4); }
    });
  }
  function paint() {
    var paintStarted = window.performance ? window.performance.now() : 0;
    var sel = { arrows: flag("show-arrows"), delivered: flag("show-delivered"), dropped: flag("show-dropped"), marks: flag("show-marks") };
    hits = { arrows: [], marks: [], ops: [] };
    ctx.clearRect(0, 0, W, height);
    ctx.save();
    ctx.beginPath(); ctx.rect(GUTTER, 0, W - GUTTER, height); ctx.clip();
    var parts = [], clock = function () { return window.performance ? window.performance.now() : 0; }, mark = clock();
    var timed = function (f) { f(); var now = clock(); parts.push(Math.round(now - mark)); mark = now; };
    timed(paintLanes);
    timed(paintNetwork);
    timed(function () { if (sel.arrows) { paintArrows(sel); } });
    timed(function () { if (sel.marks) { paintMarks(); } });
    timed(paintOps);
    timed(paintMarkers);
    ctx.restore();
    timed(paintAxisAndLabels);
    timed(paintPlots);
    stats.parts = parts;
    if (window.performance) { stats.paintMs = Math.round(window.performance.now() - paintStarted); }
    $("view-info").textContent = fmtTime(view.a) + " – " + fmtTime(view.b) + " · " + stats.arrowsDrawn + " arrows drawn" +
      (stats.stride > 1 ? " (1 in " + stats.stride + ": zoom in for all)" : "");
    selfCheck();
  }
  function paintLanes() {
    for (var k = 0; k < nodeCount; k++) {
      var y = laneY[k]; if (y < 0) { continue; }
      ctx.fillStyle = k % 2 ? "#fafafa" : "#f3f4f6"; ctx.fillRect(GUTTER, y - LANE / 2, W - GUTTER, LANE);
      ctx.strokeStyle = "#c9ccd1"; ctx.beginPath(); ctx.moveTo(GUTTER, y); ctx.lineTo(W, y); ctx.stroke();
    }
    sideW.forEach(function (w) {
      if (w.to < view.a || w.from > view.b) { return; }
      var x0 = Math.max(GUTTER, xOf(w.from)), x1 = Math.min(W, xOf(w.to));
      for (var k = 0; k < nodeCount; k++) {
        var y = laneY[k]; if (y < 0) { continue; }
        var side = w.sides[k] || 0;
        ctx.fillStyle = SIDES[side % SIDES.length]; ctx.fillRect(x0, y - LANE / 2 + 1, Math.max(1, x1 - x0), LANE - 2);
        if (x1 - x0 > 24) { ctx.fillStyle = "#555"; ctx.font = "bold 10px sans-serif"; ctx.fillText(SIDE_NAMES[side % 16], x0 + 3, y - LANE / 2 + 11); }
      }
    });
    shade(crashW, "rgba(60,60,60,0.35)", function () { return "down"; });
    shade(pauseW, "rgba(255,193,7,0.45)", function () { return "paused"; });
    shade(clockW, "rgba(156,39,176,0.25)", function (w) { return w[3]; });
    if (failed) {
      ctx.strokeStyle = "#c62828"; ctx.lineWidth = 2;
      D.violation.nodes.forEach(function (k) { var y = laneY[k]; if (y >= 0) { ctx.strokeRect(GUTTER + 1, y - LANE / 2 + 1, W - GUTTER - 2, LANE - 2); } });
      ctx.lineWidth = 1;
    }
  }
  function paintNetwork() {
    netW.forEach(function (w) {
      if (w[1] < view.a || w[0] > view.b) { return; }
      var x0 = Math.max(GUTTER, xOf(w[0])), x1 = Math.min(W, xOf(w[1]));
      ctx.fillStyle = "rgba(229,57,53,0.55)"; ctx.fillRect(x0, AXIS, Math.max(1, x1 - x0), BAND);
      ctx.fillStyle = "rgba(229,57,53,0.06)"; ctx.fillRect(x0, lanesTop, Math.max(1, x1 - x0), lanesBottom - lanesTop);
    });
  }
  function arrowVisible(j, sel) {
    if (!showKind[K[j]]) { return false; }
    var yf = laneY[F[j]], yt = laneY[T[j]];
    if (yf === undefined || yf < 0 || yt === undefined || yt < 0) { return false; }
    if (O[j] >= 2) { return sel.dropped; }
    return sel.delivered;
  }
  // Arrows are batched by style (colour, dash, width): one path per style and frame, so a frame
  // of tens of thousands of arrows costs a few dozen strokes.
  function paintArrows(sel) {
    var first = lowerBound(sendSorted, view.a - maxShort), last = lowerBound(sendSorted, view.b + 1);
    var candidates = last - first, budget = 30000;
    var stride = candidates > budget ? Math.ceil(candidates / budget) : 1;
    stats.stride = stride; stats.arrowsDrawn = 0; stats.violationMessages = 0;
    var vt = failed ? D.violation.t : -1, vnodes = failed ? D.violation.nodes : [];
    var batches = {}, crosses = {};
    var drawOne = function (j) {
      if (!arrowVisible(j, sel)) { return; }
      if (E[j] < view.a || S[j] > view.b) { return; }
      var x0 = xOf(S[j]), x1 = xOf(E[j]), y0 = laneY[F[j]], y1 = laneY[T[j]];
      var lost = O[j] >= 2;
      if (lost) { y1 = y0 + (y1 - y0) * 0.55; if (x1 - x0 < 6) { x1 = x0 + 6; } }
      var hot = failed && Math.abs(E[j] - vt) < 1 && vnodes.indexOf(T[j]) >= 0;
      var color = hot ? "#c62828" : (lost ? LOST_COLORS[O[j]] : PALETTE[K[j] % PALETTE.length]);
      var dashed = (C[j] || O[j] === 0) ? 1 : 0;
      var key = color + "|" + dashed + "|" + (hot ? 3 : 1);
      var b = batches[key] || (batches[key] = { color: color, dashed: dashed, width: hot ? 3 : 1, lines: [], heads: [] });
      b.lines.push(x0, y0, x1, y1);
      if (lost) {
        (crosses[O[j]] || (crosses[O[j]] = [])).push(x1, y1);
      } else if (x1 - x0 > 8) {
        b.heads.push(x0, y0, x1, y1);
      }
      stats.arrowsDrawn++;
      if (hot) { stats.violationMessages++; }
      if (hits.arrows.length < 40000) { hits.arrows.push([j, x0, y0, x1, y1]); }
    };
    for (var r = first; r < last; r += stride) { drawOne(order[r]); }
    for (var l = 0; l < longList.length; l++) { var j = longList[l]; if (S[j] < view.a - maxShort || S[j] > view.b) { drawOne(j); } }
    Object.keys(batches).sort().forEach(function (key) {
      var b = batches[key], q, i;
      ctx.strokeStyle = b.color; ctx.fillStyle = b.color; ctx.lineWidth = b.width;
      ctx.setLineDash(b.dashed ? [4, 3] : []);
      ctx.beginPath();
      for (i = 0; i < b.lines.length; i += 4) { q = b.lines; ctx.moveTo(q[i], q[i + 1]); ctx.lineTo(q[i + 2], q[i + 3]); }
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.beginPath();
      for (i = 0; i < b.heads.length; i += 4) {
        q = b.heads;
        var ang = Math.atan2(q[i + 3] - q[i + 1], q[i + 2] - q[i]), x1 = q[i + 2], y1 = q[i + 3];
        ctx.moveTo(x1, y1);
        ctx.lineTo(x1 - 6 * Math.cos(ang - 0.4), y1 - 6 * Math.sin(ang - 0.4));
        ctx.lineTo(x1 - 6 * Math.cos(ang + 0.4), y1 - 6 * Math.sin(ang + 0.4));
        ctx.closePath();
      }
      ctx.fill();
    });
    ctx.lineWidth = 2;
    Object.keys(crosses).forEach(function (o) {
      var c = crosses[o], i;
      ctx.strokeStyle = LOST_COLORS[o]; ctx.beginPath();
      for (i = 0; i < c.length; i += 2) {
        ctx.moveTo(c[i] - 3, c[i + 1] - 3); ctx.lineTo(c[i] + 3, c[i + 1] + 3);
        ctx.moveTo(c[i] + 3, c[i + 1] - 3); ctx.lineTo(c[i] - 3, c[i + 1] + 3);
      }
      ctx.stroke();
    });
    ctx.lineWidth = 1;
  }
  function paintMarks() {
    var first = lowerBound(MT, view.a), last = lowerBound(MT, view.b + 1);
    var stride = last - first > 20000 ? Math.ceil((last - first) / 20000) : 1, lastX = {};
    // One path per event name; marks of the same name on the same pixel of a lane drawn once.
    var paths = {}, seen = {};
    for (var r = first; r < last; r += stride) {
      var k = M.k[r], node = M.n[r], y = laneY[node];
      if (!showMark[k] || y === undefined || y < 0) { continue; }
      var x = xOf(MT[r]), pixel = node + ":" + k + ":" + Math.round(x);
      if (seen[pixel]) { continue; }
      seen[pixel] = true;
      (paths[k] || (paths[k] = [])).push(x, y);
      if (lastX[node] === undefined || x - lastX[node] > 70) {
        ctx.fillStyle = "#222"; ctx.font = "10px sans-serif";
        var term = /"term":(\d+)/.exec(M.x[r]);
        ctx.fillText(D.mark_names[k] + (term ? " t" + term[1] : ""), x + 6, y - 9);
        lastX[node] = x;
      }
      hits.marks.push([r, x, y - 4]);
    }
    Object.keys(paths).forEach(function (k) {
      var q = paths[k], i;
      ctx.fillStyle = PALETTE[(+k + 3) % PALETTE.length]; ctx.beginPath();
      for (i = 0; i < q.length; i += 2) {
        ctx.moveTo(q[i], q[i + 1] - 9); ctx.lineTo(q[i] + 5, q[i + 1] - 4); ctx.lineTo(q[i], q[i + 1] + 1); ctx.lineTo(q[i] - 5, q[i + 1] - 4); ctx.closePath();
      }
      ctx.fill();
    });
  }
  var explain = D.explain || {}, blockingOp = explain.blocking, inPrefix = {}, inExplain = {};
  (explain.prefix || []).forEach(function (op) { inPrefix[op] = true; });
  (explain.candidates || []).forEach(function (c) { inExplain[c[0]] = c[1]; });
  (explain.concurrent || []).forEach(function (op) { if (inExplain[op] === undefined) { inExplain[op] = "concurrent with the blocking operation"; } });
  if (blockingOp !== undefined) { inExplain[blockingOp] = inExplain[blockingOp] || "blocking"; }
  function paintOps() {
    if (!rowKeys.length) { return; }
    var top = lanesBottom + 18;
    ctx.fillStyle = "#eef0f3"; ctx.fillRect(GUTTER, lanesBottom, W - GUTTER, 16);
    stats.highlighted = 0; stats.prefixMarked = 0;
    var drawn = 0, covered = {};
    for (var k = 0; k < on; k++) {
      var row = rowOf[P.p[k]]; if (row === undefined) { continue; }
      if (opEnd[k] < view.a || P.s[k] > view.b) { continue; }
      var x0 = xOf(P.s[k]), x1 = Math.max(x0 + 2, xOf(opEnd[k])), y = top + row * rowH;
      var id = P.i[k], key = row * 4 + P.o[k];
      // Zoomed out, many operations share a pixel: draw each pixel once per row and outcome.
      if (covered[key] !== undefined && x1 <= covered[key] && inExplain[id] === undefined && !inPrefix[id]) { continue; }
      covered[key] = Math.max(covered[key] || 0, Math.ceil(x1));
      ctx.fillStyle = OP_COLORS[P.o[k]]; ctx.fillRect(x0, y + 1, x1 - x0, rowH - 3);
      if (inExplain[id] !== undefined) {
        ctx.strokeStyle = id === blockingOp ? "#c62828" : "#e65100"; ctx.lineWidth = id === blockingOp ? 3 : 2;
        ctx.strokeRect(x0, y + 1, x1 - x0, rowH - 3); ctx.lineWidth = 1; stats.highlighted++;
      } else if (inPrefix[id]) {
        ctx.strokeStyle = "#1b5e20"; ctx.lineWidth = 2; ctx.strokeRect(x0, y + 1, x1 - x0, rowH - 3); ctx.lineWidth = 1; stats.prefixMarked++;
      }
      if (x1 - x0 > 60 && rowH >= 14 && P.x[k]) { ctx.fillStyle = "#111"; ctx.font = "10px sans-serif"; ctx.fillText(P.x[k], x0 + 2, y + rowH - 4, x1 - x0 - 4); }
      if (drawn++ < 40000) { hits.ops.push([k, x0, x1, y, y + rowH]); }
    }
  }
  function paintMarkers() {
    stats.violationDrawn = false;
    if (D.quiet !== null && D.quiet !== undefined && D.quiet >= view.a && D.quiet <= view.b) {
      var xq = xOf(D.quiet); ctx.strokeStyle = "#2e7d32"; ctx.setLineDash([6, 4]);
      ctx.beginPath(); ctx.moveTo(xq, AXIS); ctx.lineTo(xq, height); ctx.stroke(); ctx.setLineDash([]);
      ctx.fillStyle = "#2e7d32"; ctx.font = "10px sans-serif"; ctx.fillText("quiet phase", xq + 3, AXIS + BAND + 10);
    }
    (D.panics || []).forEach(function (p) {
      if (p[0] < view.a || p[0] > view.b) { return; }
      var xp = xOf(p[0]); ctx.strokeStyle = "#6a1b9a"; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(xp, AXIS); ctx.lineTo(xp, height); ctx.stroke(); ctx.lineWidth = 1;
    });
    if (!failed) { return; }
    var vt = D.violation.t;
    if (vt >= view.a && vt <= view.b) {
      var x = xOf(vt);
      ctx.strokeStyle = "#c62828"; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(x, AXIS); ctx.lineTo(x, height); ctx.stroke(); ctx.lineWidth = 1;
      ctx.fillStyle = "#c62828"; ctx.font = "bold 11px sans-serif";
      var label = "✖ " + D.violation.check + " at " + fmtTime(vt);
      var w = ctx.measureText(label).width;
      ctx.fillText(label, x + 4 + w > W ? x - w - 4 : x + 4, AXIS + BAND + 22);
      stats.violationDrawn = true;
    }
  }
  function niceStep(span, px) {
    var raw = span / Math.max(1, px / 110), p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m < 2 ? 2 : m < 5 ? 5 : 10) * p;
  }
  function paintAxisAndLabels() {
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, GUTTER, height); ctx.fillRect(GUTTER, 0, W - GUTTER, AXIS);
    ctx.strokeStyle = "#999"; ctx.fillStyle = "#333"; ctx.font = "10px sans-serif";
    var step = niceStep(view.b - view.a, W - GUTTER);
    for (var tt = Math.ceil(view.a / step) * step; tt <= view.b; tt += step) {
      var x = xOf(tt); ctx.beginPath(); ctx.moveTo(x, AXIS - 6); ctx.lineTo(x, AXIS); ctx.stroke(); ctx.fillText(fmtTime(tt), x + 2, AXIS - 9);
    }
    ctx.font = "bold 12px sans-serif";
    for (var k = 0; k < nodeCount; k++) {
      var y = laneY[k]; if (y < 0) { continue; }
      ctx.fillStyle = failed && D.violation.nodes.indexOf(k) >= 0 ? "#c62828" : "#222";
      ctx.fillText(D.nodes[k], 8, y + 4);
    }
    if (rowKeys.length) {
      ctx.font = "10px sans-serif"; ctx.fillStyle = "#555";
      ctx.fillText(P.rows === "node" ? "requests to" : "clients", 8, lanesBottom + 12);
      rowKeys.forEach(function (p, r) {
        if (rowH >= 10) { ctx.fillText(P.rows === "node" ? D.nodes[p] || "n" + (p + 1) : "process " + p, 8, lanesBottom + 18 + r * rowH + rowH - 4); }
      });
    }
    ctx.fillStyle = "#555"; ctx.font = "10px sans-serif"; ctx.fillText(LOGICAL ? "event #" : "time", 8, AXIS - 9);
  }

  // ---- plots: latency and throughput, fault windows behind ----
  var lat = $("latency"), thr = $("throughput");
  function plotFrame(cv, h) {
    if (cv.width !== Math.round(W * DPR) || cv.height !== Math.round(h * DPR)) {
      cv.width = Math.round(W * DPR); cv.height = Math.round(h * DPR); cv.style.height = h + "px";
    }
    var c2 = cv.getContext("2d"); c2.setTransform(DPR, 0, 0, DPR, 0, 0); c2.clearRect(0, 0, W, h);
    D.windows.forEach(function (w) {
      if (w[1] < view.a || w[0] > view.b) { return; }
      var x0 = Math.max(GUTTER, xOf(w[0])), x1 = Math.min(W, xOf(w[1]));
      c2.fillStyle = "rgba(229,57,53,0.10)"; c2.fillRect(x0, 0, x1 - x0, h);
    });
    if (failed && D.violation.t >= view.a && D.violation.t <= view.b) {
      c2.strokeStyle = "#c62828"; c2.beginPath(); c2.moveTo(xOf(D.violation.t), 0); c2.lineTo(xOf(D.violation.t), h); c2.stroke();
    }
    return c2;
  }
  function paintPlots() {
    if (!on) { $("plots").hidden = true; return; }
    var h = 140, c2 = plotFrame(lat, h), maxLat = 1, k;
    for (k = 0; k < on; k++) { if (P.e[k] >= 0 && P.s[k] >= view.a && P.s[k] <= view.b) { maxLat = Math.max(maxLat, P.e[k] - P.s[k]); } }
    var yOf = function (v) { return h - 14 - v / maxLat * (h - 26); };
    // One path per outcome; points on the same pixel drawn once.
    var dots = [[], [], []], taken = {};
    for (k = 0; k < on; k++) {
      if (P.s[k] < view.a || P.s[k] > view.b) { continue; }
      var y = Math.round(P.e[k] >= 0 ? yOf(P.e[k] - P.s[k]) : 10), x = Math.round(xOf(P.s[k]));
      var spot = (x * 1024 + y) * 4 + P.o[k];
      if (taken[spot]) { continue; }
      taken[spot] = true;
      dots[P.o[k]].push(x, y);
    }
    dots.forEach(function (q, o) {
      c2.fillStyle = OP_COLORS[o]; c2.beginPath();
      for (var i = 0; i < q.length; i += 2) { c2.rect(q[i] - 1.5, q[i + 1] - 1.5, 3, 3); }
      c2.fill();
    });
    c2.fillStyle = "#333"; c2.font = "10px sans-serif";
    c2.fillText("latency (max " + fmtDur(maxLat) + ")", 6, 12); c2.fillText("0", GUTTER - 12, h - 14);
    var buckets = Math.max(10, Math.floor((W - GUTTER) / 6)), width = (view.b - view.a) / buckets, counts = new Array(buckets).fill(0), best = 1;
    for (k = 0; k < on; k++) {
      if (P.e[k] < 0 || P.o[k] !== 0 || P.e[k] < view.a || P.e[k] >= view.b) { continue; }
      var b = Math.floor((P.e[k] - view.a) / width); counts[b]++; if (counts[b] > best) { best = counts[b]; }
    }
    var h2 = 90, c3 = plotFrame(thr, h2);
    c3.fillStyle = "#43a047";
    for (k = 0; k < buckets; k++) {
      var bh = counts[k] / best * (h2 - 24);
      c3.fillRect(xOf(view.a + k * width), h2 - 12 - bh, Math.max(1, (W - GUTTER) / buckets - 1), bh);
    }
    var rate = LOGICAL ? best + " per " + fmtDur(width) : (best / (width / 1e9)).toFixed(1) + " ok/s";
    c3.fillStyle = "#333"; c3.font = "10px sans-serif"; c3.fillText("throughput (peak " + rate + ")", 6, 12);
  }

  // ---- the linearizability explanation ----
  if (D.explain) {
    $("explain-box").hidden = false;
    var head = "verdict: " + D.explain.verdict;
    if (D.explain.blocking !== undefined) {
      head += " · key " + (D.explain.key === null ? "(none)" : D.explain.key) + " · longest linearizable prefix: " +
        D.explain.prefix.length + " operations (green outline), state after it " + D.explain.state +
        " · op " + D.explain.blocking + " cannot be placed (red)";
    }
    $("explain-head").textContent = head;
    $("explain-text").textContent = D.explain.text;
    var byId = {};
    for (i = 0; i < on; i++) { byId[P.i[i]] = i; }
    var shown = Object.keys(inExplain).map(Number).sort(function (a, b) { return a - b; });
    if (shown.length) {
      var hr = el("tr"); ["op", "role", "process", "operation", "invoked", "returned", "why"].forEach(function (h) { hr.appendChild(el("th", h)); });
      $("explain-ops").appendChild(hr);
    }
    shown.forEach(function (id) {
      var k = byId[id]; if (k === undefined) { return; }
      var tr = el("tr", null, id === blockingOp ? "blocking" : "candidate");
      tr.appendChild(el("td", id)); tr.appendChild(el("td", id === blockingOp ? "blocking" : "candidate"));
      tr.appendChild(el("td", P.p[k])); tr.appendChild(el("td", P.x[k]));
      tr.appendChild(el("td", fmtTime(P.s[k]))); tr.appendChild(el("td", P.e[k] >= 0 ? fmtTime(P.e[k]) : "never"));
      tr.appendChild(el("td", inExplain[id]));
      tr.addEventListener("click", function () { var span = Math.max(opEnd[k] - P.s[k], 1) * 8; setView(P.s[k] - span / 2, opEnd[k] + span / 2); });
      $("explain-ops").appendChild(tr);
    });
  }

  // ---- interaction ----
  var drag = null, tip = $("tooltip");
  canvas.addEventListener("wheel", function (ev) { ev.preventDefault(); var r = canvas.getBoundingClientRect(); zoom(ev.deltaY > 0 ? 1.25 : 0.8, ev.clientX - r.left); }, { passive: false });
  canvas.addEventListener("mousedown", function (ev) { drag = { x: ev.clientX, a: view.a, b: view.b }; canvas.style.cursor = "grabbing"; });
  window.addEventListener("mouseup", function () { drag = null; canvas.style.cursor = "grab"; });
  window.addEventListener("mousemove", function (ev) {
    if (drag) {
      var dt = (ev.clientX - drag.x) / (W - GUTTER - 8) * (drag.b - drag.a);
      setView(drag.a - dt, drag.b - dt); tip.hidden = true; return;
    }
    var r = canvas.getBoundingClientRect();
    if (ev.clientX < r.left || ev.clientX > r.right || ev.clientY < r.top || ev.clientY > r.bottom) { tip.hidden = true; return; }
    var text = hitText(ev.clientX - r.left, ev.clientY - r.top);
    if (!text) { tip.hidden = true; return; }
    tip.textContent = text; tip.hidden = false;
    tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 570) + "px"; tip.style.top = (ev.clientY + 14) + "px";
  });
  function hitText(x, y) {
    var best = null, bestD = 36, k, h;
    for (k = 0; k < hits.marks.length; k++) {
      h = hits.marks[k]; var dm = (h[1] - x) * (h[1] - x) + (h[2] - y) * (h[2] - y);
      if (dm < bestD) { bestD = dm; best = "mark:" + h[0]; }
    }
    if (best) { var r = +best.slice(5); return D.mark_names[M.k[r]] + " on " + D.nodes[M.n[r]] + " at t=" + fmtTime(MT[r]) + "\n" + M.x[r]; }
    for (k = 0; k < hits.ops.length; k++) {
      h = hits.ops[k];
      if (x >= h[1] - 2 && x <= h[2] + 2 && y >= h[3] && y <= h[4]) {
        var j = h[0], id = P.i[j];
        return "op " + id + " (" + OP_NAMES[P.o[j]] + ") " + (P.rows === "node" ? "to " + D.nodes[P.p[j]] : "process " + P.p[j]) + "\n" + P.x[j] +
          "\ninvoked " + fmtTime(P.s[j]) + ", " + (P.e[j] >= 0 ? "returned " + fmtTime(P.e[j]) + " (" + fmtDur(P.e[j] - P.s[j]) + ")" : "never returned") +
          (inExplain[id] !== undefined ? "\nexplanation: " + inExplain[id] : "") + (inPrefix[id] ? "\nin the longest linearizable prefix" : "");
      }
    }
    var bestA = null; bestD = 16;
    for (k = 0; k < hits.arrows.length; k++) {
      h = hits.arrows[k];
      var dx = h[3] - h[1], dy = h[4] - h[2], len = dx * dx + dy * dy, u = len ? ((x - h[1]) * dx + (y - h[2]) * dy) / len : 0;
      u = Math.max(0, Math.min(1, u));
      var px = h[1] + u * dx - x, py = h[2] + u * dy - y, da = px * px + py * py;
      if (da < bestD) { bestD = da; bestA = h[0]; }
    }
    if (bestA !== null) {
      var a = bestA;
      return D.kinds[K[a]] + " " + D.nodes[F[a]] + " → " + D.nodes[T[a]] + (C[a] ? " (duplicate copy)" : "") +
        "\nsent " + fmtTime(S[a]) + ", " + OUTCOMES[O[a]] + (O[a] ? " at " + fmtTime(E[a]) + " (" + fmtDur(E[a] - S[a]) + ")" : "");
    }
    var w = sideW.filter(function (s) { return tOf(x) >= s.from && tOf(x) < s.to; })[0];
    if (w && y > lanesTop && y < lanesBottom) { return "partition from " + fmtTime(w.from) + " to " + fmtTime(w.to) + "\ncut links: " + w.links; }
    var nw = netW.filter(function (s) { return tOf(x) >= s[0] && tOf(x) < s[1]; })[0];
    if (nw && y >= AXIS && y <= AXIS + BAND) { return "network degraded from " + fmtTime(nw[0]) + "\n" + nw[2]; }
    return null;
  }
  canvas.addEventListener("keydown", onKey);
  document.addEventListener("keydown", function (ev) { if (ev.target === document.body) { onKey(ev); } });
  function onKey(ev) {
    var handled = true;
    if (ev.key === "+" || ev.key === "=") { zoom(0.7); }
    else if (ev.key === "-" || ev.key === "_") { zoom(1.4); }
    else if (ev.key === "ArrowLeft") { pan(-0.2); }
    else if (ev.key === "ArrowRight") { pan(0.2); }
    else if (ev.key === "0") { setView(0, END); }
    else if (ev.key === "v") { violationView(); }
    else { handled = false; }
    if (handled) { ev.preventDefault(); }
  }
  $("zoom-in").addEventListener("click", function () { zoom(0.6); });
  $("zoom-out").addEventListener("click", function () { zoom(1.6); });
  $("fit").addEventListener("click", function () { setView(0, END); });
  $("goto-violation").addEventListener("click", function () { violationView(); });
  $("goto-violation").disabled = !failed;
  $("apply-window").addEventListener("click", function () {
    var scale = LOGICAL ? 1 : 1e9, a = parseFloat($("from").value) * scale, b = parseFloat($("to").value) * scale;
    if (isFinite(a) && isFinite(b) && b > a) { setView(a, b); }
  });
  window.addEventListener("resize", function () { resize(); draw(); });

  // ---- the self-check, for people and for the browser test ----
  function selfCheck() {
    var lanes = laneY.filter(function (y) { return y >= 0; }).length;
    var check = {
      rendered: true, lanes: lanes, nodes: nodeCount, arrows: n, arrows_omitted: D.arrows_omitted,
      lost: dropped, duplicates: copies, in_flight: inflight, marks: mn, ops: on, client_rows: rowKeys.length,
      arrows_drawn: stats.arrowsDrawn, violation: failed, violation_marker: stats.violationDrawn,
      violation_messages: stats.violationMessages || 0, first_paint_ms: firstPaintMs, ready_ms: readyMs,
      paint_ms: stats.paintMs, paint_parts_ms: stats.parts, pan_ms: stats.panMs,
      violation_nodes: failed ? D.violation.nodes.map(function (k) { return D.nodes[k]; }) : [],
      explained_ops: stats.highlighted, prefix_ops: stats.prefixMarked,
      crash_windows: crashW.length, pause_windows: pauseW.length, partition_windows: sideW.length,
      clock_windows: clockW.length, network_windows: netW.length,
      errors: window.simErrors, alerts: window.simAlerts, scripts: document.scripts.length
    };
    $("selfcheck").textContent = JSON.stringify(check);
  }
  window.simSelfCheck = selfCheck;

  var firstPaintMs = null, readyMs = null;
  layout();
  // `#view=A-B` in the address opens on that window (seconds, or event positions).
  var asked = /view=([0-9.]+)-([0-9.]+)/.exec(window.location.hash), scale = LOGICAL ? 1 : 1e9;
  if (asked && +asked[2] > +asked[1]) { setView(asked[1] * scale, asked[2] * scale); }
  else if (!violationView()) { setView(0, END); }
  paint();
  // How long the script took to its first picture, and the page from navigation to it.
  if (window.performance) {
    firstPaintMs = Math.round(window.performance.now() - started);
    readyMs = Math.round(window.performance.now());
    selfCheck();
  }
  // `#bench` in the address: twenty pans of a tenth of the view, painted at once, and their mean
  // time in the self-check (`pan_ms`), to measure how smoothly a large run pans.
  if (window.location.hash.indexOf("bench") >= 0 && window.performance) {
    var benchStart = window.performance.now();
    for (var p = 0; p < 20; p++) { pan(p < 10 ? 0.1 : -0.1); paint(); }
    stats.panMs = Math.round((window.performance.now() - benchStart) / 20);
    selfCheck();
  }
  // The page opens on the violation: the diagram's controls at the top of the window, the view
  // around the violation's instant (`#top` in the address keeps the page at its top).
  if (failed && D.has_trace && window.location.hash.indexOf("top") < 0) { $("controls").scrollIntoView(); }
})();
