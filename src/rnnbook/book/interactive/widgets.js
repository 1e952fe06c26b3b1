/* The book's interactive figures (rnnbook.book.interactive): vanilla JavaScript drawing SVG.
 *
 * Every value drawn was computed at build time by rnnbook (Python) and sits in the widget's
 * <script type="application/json">; this file only picks the values for the setting the reader
 * chose and draws them. No library, no network, no server. Each widget's root element carries
 * data-state: a JSON summary of what it shows (read by the browser test, tests/test_browser.py).
 */
(function () {
  "use strict";
  if (window.rnnbookWidgets) return;
  var NS = "http://www.w3.org/2000/svg";

  function S(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function H(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function T(parent, x, y, text, attrs) {
    var a = { x: x, y: y };
    for (var k in attrs || {}) a[k] = attrs[k];
    var t = S("text", a, parent);
    t.textContent = text;
    return t;
  }
  function lin(d0, d1, r0, r1) {
    return function (v) { return r0 + (v - d0) / (d1 - d0) * (r1 - r0); };
  }
  function niceTicks(a, b, n) {
    var span = (b - a) / n, p = Math.pow(10, Math.floor(Math.log10(span))), m = span / p;
    var stepv = (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p, out = [];
    for (var v = Math.ceil(a / stepv - 1e-9) * stepv; v <= b + 1e-9 * stepv; v += stepv) out.push(Math.abs(v) < 1e-12 ? 0 : v);
    return out;
  }
  function num(v, d) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    if (Math.abs(v) < 0.5 * Math.pow(10, -d)) v = 0;
    var s = v.toFixed(d);
    return s.replace("-", "\u2212");
  }
  function sig(v) { return v === null || !isFinite(v) ? null : Number(v.toPrecision(7)); }
  function grouped(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function unpack(p) {
    var bin = atob(p.f32), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var a = new Float32Array(bytes.buffer), strides = [], s = 1;
    for (var j = p.shape.length - 1; j >= 0; j--) { strides[j] = s; s *= p.shape[j]; }
    return { data: a, shape: p.shape, at: function () {
      var o = 0; for (var k = 0; k < arguments.length; k++) o += arguments[k] * strides[k]; return o; } };
  }
  function closest(values, v) {
    var best = 0;
    for (var i = 1; i < values.length; i++) if (Math.abs(values[i] - v) < Math.abs(values[best] - v)) best = i;
    return best;
  }
  /* A plot frame: axes, ticks, grid and labels in box {x0, x1, y0, y1} (pixels) for domains xd, yd. */
  function frame(g, box, xd, yd, xlabel, ylabel, opts) {
    opts = opts || {};
    var X = lin(xd[0], xd[1], box.x0, box.x1), Y = lin(yd[0], yd[1], box.y1, box.y0);
    var xt = opts.xticks || niceTicks(xd[0], xd[1], 6), yt = opts.yticks || niceTicks(yd[0], yd[1], 6);
    xt.forEach(function (v) {
      S("line", { x1: X(v), x2: X(v), y1: box.y0, y2: box.y1, class: "rw-grid" }, g);
      T(g, X(v), box.y1 + 14, opts.xfmt ? opts.xfmt(v) : num(v, opts.xd || 0), { class: "rw-tick", "text-anchor": "middle" });
    });
    yt.forEach(function (v) {
      S("line", { x1: box.x0, x2: box.x1, y1: Y(v), y2: Y(v), class: "rw-grid" }, g);
      T(g, box.x0 - 5, Y(v) + 4, opts.yfmt ? opts.yfmt(v) : num(v, opts.yd || 0), { class: "rw-tick", "text-anchor": "end" });
    });
    S("rect", { x: box.x0, y: box.y0, width: box.x1 - box.x0, height: box.y1 - box.y0, class: "rw-frame" }, g);
    if (xlabel) T(g, (box.x0 + box.x1) / 2, box.y1 + (opts.xlabelGap || 32), xlabel, { class: "rw-label", "text-anchor": "middle" });
    if (ylabel) T(g, box.x0 - 36, (box.y0 + box.y1) / 2, ylabel,
      { class: "rw-label", "text-anchor": "middle", transform: "rotate(-90 " + (box.x0 - 36) + " " + (box.y0 + box.y1) / 2 + ")" });
    return { X: X, Y: Y };
  }
  function clipTo(svg, id, box) {
    var defs = svg.querySelector("defs") || S("defs", {}, svg);
    var cp = S("clipPath", { id: id }, defs);
    S("rect", { x: box.x0, y: box.y0, width: box.x1 - box.x0, height: box.y1 - box.y0 }, cp);
    return "url(#" + id + ")";
  }
  function polyline(g, xs, ys, X, Y, attrs) {
    var pts = [], segs = [];
    for (var i = 0; i < xs.length; i++) {
      if (xs[i] === null || ys[i] === null || !isFinite(xs[i]) || !isFinite(ys[i])) {
        if (pts.length) segs.push(pts); pts = []; continue;
      }
      pts.push(X(xs[i]).toFixed(2) + "," + Y(ys[i]).toFixed(2));
    }
    if (pts.length) segs.push(pts);
    return segs.map(function (p) { var a = { points: p.join(" ") }; for (var k in attrs) a[k] = attrs[k]; return S("polyline", a, g); });
  }
  function slider(parent, label, n, value, onInput) {
    var row = H("div", { class: "rw-control" }, parent);
    var lab = H("label", {}, row);
    H("span", { class: "rw-control-name" }, lab, label + " ");
    var input = H("input", { type: "range", min: "0", max: String(n - 1), step: "1", value: String(value) }, lab);
    var out = H("output", { class: "rw-control-value" }, lab);
    input.addEventListener("input", function () { onInput(parseInt(input.value, 10)); });
    return { input: input, out: out, row: row };
  }
  function setState(root, state) { root.setAttribute("data-state", JSON.stringify(state)); }

  /* ---------------------------------------------------------------------------------------- */
  /* Fig. 3: fixed points, cobweb and basins over the bias b                                  */
  /* ---------------------------------------------------------------------------------------- */
  var BASIN_COLORS = ["#1f77b4", "#d62728", "#7f7f7f"], BASIN_NAMES = ["low", "high", "none"];

  function bifurcation(root, d, uid) {
    var paths = unpack(d.paths), nb = d.b.length, xr = d.x_range;
    var st = { bi: closest(d.b, d.initial.b), si: closest(d.starts, d.initial.x0) };
    var controls = H("div", { class: "rw-controls" }, root);
    var sb = slider(controls, "bias b", nb, st.bi, function (i) { st.bi = i; draw(); });
    var sx = slider(controls, "start x\u2080", d.starts.length, st.si, function (i) { st.si = i; draw(); });
    sb.input.setAttribute("aria-label", "bias b");
    sx.input.setAttribute("aria-label", "start x0");
    var svg = S("svg", { viewBox: "0 0 900 420", class: "rw-svg", role: "img",
      "aria-label": "cobweb, fixed points and basins of x_t = w sigma(x_t-1) + b for the chosen b" }, root);
    var readout = H("p", { class: "rw-readout" }, root);
    var L = { x0: 60, x1: 390, y0: 24, y1: 334 }, R = { x0: 520, x1: 880, y0: 24, y1: 334 };
    var stat = S("g", {}, svg), dyn = S("g", {}, svg);
    var fl = frame(stat, L, xr, xr, "x\u209c\u208b\u2081   (strip below the axis: the basin each start falls into)", "x\u209c",
      { xlabelGap: 62 });
    var fr = frame(stat, R, [d.b[0], d.b[nb - 1]], [-4.5, 4.5], "bias b", "fixed points x*", { xd: 1 });
    T(stat, L.x0, 16, "F(x) = " + d.w + "\u03c3(x) + b, the diagonal, and a cobweb", { class: "rw-title" });
    T(stat, R.x0, 16, "bifurcation diagram (background: basin of each (b, x\u2080))", { class: "rw-title" });
    // basin map of the whole (b, x0) plane, drawn once from the precomputed codes
    var cv = document.createElement("canvas"), nx = d.basin_x0.length;
    cv.width = nb; cv.height = nx;
    var ctx = cv.getContext("2d"), img = ctx.createImageData(nb, nx), pale = [[198, 219, 239], [252, 205, 205], [220, 220, 220]];
    for (var bi = 0; bi < nb; bi++) for (var k = 0; k < nx; k++) {
      var c = pale[+d.basins[bi][k]], o = 4 * ((nx - 1 - k) * nb + bi);
      img.data[o] = c[0]; img.data[o + 1] = c[1]; img.data[o + 2] = c[2]; img.data[o + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    var db = (d.b[1] - d.b[0]) / 2, dx = (d.basin_x0[1] - d.basin_x0[0]) / 2;
    var rclip = clipTo(svg, uid + "-r", R);
    var bg = S("image", { href: cv.toDataURL(), x: fr.X(d.b[0] - db), y: fr.Y(d.basin_x0[nx - 1] + dx),
      width: fr.X(d.b[nb - 1] + db) - fr.X(d.b[0] - db), height: fr.Y(d.basin_x0[0] - dx) - fr.Y(d.basin_x0[nx - 1] + dx),
      preserveAspectRatio: "none", "clip-path": rclip, style: "image-rendering: pixelated" }, stat);
    stat.insertBefore(bg, stat.firstChild);
    var rg = S("g", { "clip-path": rclip }, stat);
    polyline(rg, d.b, d.branches.low, fr.X, fr.Y, { class: "rw-branch" });
    polyline(rg, d.b, d.branches.high, fr.X, fr.Y, { class: "rw-branch" });
    polyline(rg, d.b, d.branches.boundary, fr.X, fr.Y, { class: "rw-boundary" });
    var ticks = H("datalist", { id: uid + "-bif" }, controls);
    [["b\u2081", d.bif.b_1, d.bif.x_1, "start"], ["b\u2082", d.bif.b_2, d.bif.x_2, "end"]].forEach(function (q) {
      S("line", { x1: fr.X(q[1]), x2: fr.X(q[1]), y1: R.y0, y2: R.y1, class: "rw-bif" }, stat);
      S("circle", { cx: fr.X(q[1]), cy: fr.Y(q[2]), r: 4.5, class: "rw-bifpoint" }, stat);
      T(stat, fr.X(q[1]) + (q[3] === "end" ? -3 : 3), R.y0 + 14, q[0] + " = " + num(q[1], 4),
        { class: "rw-bif-label", "text-anchor": q[3] });
      H("option", { value: String(closest(d.b, q[1])) }, ticks);
    });
    sb.input.setAttribute("list", ticks.id);
    var lclip = clipTo(svg, uid + "-l", L);
    var diag = S("g", { "clip-path": lclip }, stat);
    S("line", { x1: fl.X(xr[0]), y1: fl.Y(xr[0]), x2: fl.X(xr[1]), y2: fl.Y(xr[1]), class: "rw-diagonal" }, diag);
    var strip = { y0: L.y1 + 22, y1: L.y1 + 32 };

    function draw() {
      while (dyn.firstChild) dyn.removeChild(dyn.firstChild);
      var b = d.b[st.bi], x0 = d.starts[st.si], fp = d.fixed[st.bi], stab = d.stable[st.bi];
      sb.out.textContent = num(b, 2);
      sx.out.textContent = num(x0, 2);
      var lg = S("g", { "clip-path": lclip }, dyn);
      var fy = d.curve_wsig.map(function (v) { return v + b; });
      polyline(lg, d.curve_x, fy, fl.X, fl.Y, { class: "rw-map" });
      var n = d.cobweb_steps, cx = [], cy = [], p = [];
      for (var t = 0; t <= n; t++) p.push(paths.data[paths.at(st.bi, st.si, t)]);
      for (t = 0; t < n; t++) { cx.push(p[t], p[t]); cy.push(p[t], p[t + 1]); }
      cx.push(p[n]); cy.push(p[n]);
      var web = polyline(lg, cx, cy, fl.X, fl.Y, { class: "rw-cobweb" })[0];
      web.setAttribute("data-x", cx.map(sig).join(","));
      web.setAttribute("data-y", cy.map(sig).join(","));
      S("rect", { x: fl.X(x0) - 4, y: fl.Y(x0) - 4, width: 8, height: 8, class: "rw-start" }, lg);
      var shown = [], kinds = [];
      fp.forEach(function (x, j) {
        if (x === null) return;
        shown.push(x); kinds.push(stab[j] ? "attractor" : "repelling");
        S("circle", { cx: fl.X(x), cy: fl.Y(x), r: 5.5, class: stab[j] ? "rw-attractor" : "rw-repeller" }, dyn);
        S("circle", { cx: fr.X(b), cy: fr.Y(x), r: 5, class: stab[j] ? "rw-attractor" : "rw-repeller" }, dyn);
      });
      // the basin strip under the cobweb's x axis: the basin of every start at this b
      var codes = d.basins[st.bi], w = (fl.X(d.basin_x0[1]) - fl.X(d.basin_x0[0]));
      for (var k = 0; k < codes.length; k++)
        S("rect", { x: fl.X(d.basin_x0[k]) - w / 2, y: strip.y0, width: w + 0.3, height: strip.y1 - strip.y0,
          fill: BASIN_COLORS[+codes[k]], class: "rw-basin-cell" }, dyn);
      S("line", { x1: fr.X(b), x2: fr.X(b), y1: R.y0, y2: R.y1, class: "rw-current" }, dyn);
      S("rect", { x: fr.X(b) - 4, y: fr.Y(x0) - 4, width: 8, height: 8, class: "rw-start" }, dyn);
      var ks = closest(d.basin_x0, x0), basin = +codes[ks];
      var att = d.branches[basin === 0 ? "low" : "high"][st.bi];
      var bistable = b > d.bif.b_2 && b < d.bif.b_1;
      readout.textContent = "b = " + num(b, 2) + (bistable ? " lies between b\u2082 and b\u2081: two attractors and the basin boundary between them. "
        : " lies outside [b\u2082, b\u2081] = [" + num(d.bif.b_2, 4) + ", " + num(d.bif.b_1, 4) + "]: one attractor. ")
        + "Fixed points: " + shown.map(function (x, j) { return num(x, 3) + " (" + (kinds[j] === "attractor" ? "attractor" : "repelling, the basin boundary") + ")"; }).join(", ")
        + ". From x\u2080 = " + num(x0, 2) + " the cobweb reaches x" + String(n).replace(/\d/g, function (c) { return "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089"[+c]; })
        + " = " + num(p[n], 3) + (basin === 2 ? "; the start sits on the repelling fixed point and stays there."
          : "; after " + grouped(d.basin_T) + " steps it is on the " + BASIN_NAMES[basin] + " attractor, " + num(att, 3) + ".");
      setState(root, { b: b, x0: x0, fixed: shown, kinds: kinds, cobweb_end: p[n], basin: BASIN_NAMES[basin],
        basins: codes, bistable: bistable });
    }
    draw();
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Fig. 6: descent on the error surface, plain and clipped                                  */
  /* ---------------------------------------------------------------------------------------- */
  function clipping(root, d, uid) {
    var plain = unpack(d.plain), clipped = unpack(d.clipped), n = d.steps + 1;
    var st = { li: closest(d.lrs, d.initial.lr), ti: closest(d.thresholds, d.initial.threshold), si: d.initial.start };
    var controls = H("div", { class: "rw-controls" }, root);
    var sth = slider(controls, "clipping threshold", d.thresholds.length, st.ti, function (i) { st.ti = i; draw(); });
    var slr = slider(controls, "learning rate \u03b7", d.lrs.length, st.li, function (i) { st.li = i; draw(); });
    sth.input.setAttribute("aria-label", "clipping threshold");
    slr.input.setAttribute("aria-label", "learning rate");
    var row = H("div", { class: "rw-control" }, controls), lab = H("label", {}, row);
    H("span", { class: "rw-control-name" }, lab, "start (w, b) ");
    var sel = H("select", { "aria-label": "start" }, lab);
    d.starts.forEach(function (s, i) {
      var o = H("option", { value: String(i) }, sel, "(" + num(s[0], 1) + ", " + num(s[1], 2) + ") " + (i < d.starts.length / 2 ? "below" : "above") + " the wall");
      if (i === st.si) o.selected = true;
    });
    sel.addEventListener("change", function () { st.si = parseInt(sel.value, 10); draw(); });
    var svg = S("svg", { viewBox: "0 0 900 440", class: "rw-svg", role: "img",
      "aria-label": "error surface with the plain and clipped gradient-descent paths" }, root);
    var box = { x0: 60, x1: 640, y0: 24, y1: 384 };
    var stat = S("g", {}, svg), dyn = S("g", {}, svg);
    var f = frame(stat, box, d.w_range, d.b_range, "w", "b");
    var img = S("image", { href: d.surface, x: box.x0, y: box.y0, width: box.x1 - box.x0, height: box.y1 - box.y0,
      preserveAspectRatio: "none" }, stat);
    stat.insertBefore(img, stat.firstChild);
    T(stat, box.x0, 16, "E\u2085\u2080(w, b) = (\u03c3(x\u2085\u2080) \u2212 0.7)\u00b2, colour from 0 (dark) to 0.5 (yellow)", { class: "rw-title" });
    var clip = clipTo(svg, uid + "-c", box), wallg = S("g", { "clip-path": clip }, stat);
    var ww = [d.wall.w_min, d.w_range[1]];
    polyline(wallg, ww, ww.map(function (w) { return d.wall.intercept + d.wall.slope * w; }), f.X, f.Y, { class: "rw-wall" });
    var legend = S("g", {}, stat), lx = 660;
    S("rect", { x: lx - 8, y: 26, width: 210, height: 66, rx: 4, class: "rw-legend-box" }, legend);
    [["rw-plain", "plain gradient descent"], ["rw-clipped", "clipped (Algorithm 1)"], ["rw-wall", "the wall"]].forEach(function (q, i) {
      S("line", { x1: lx, x2: lx + 26, y1: 40 + 20 * i, y2: 40 + 20 * i, class: q[0] }, legend);
      T(legend, lx + 32, 44 + 20 * i, q[1], { class: "rw-tick rw-on-dark" });
    });
    var table = H("table", { class: "rw-table" }, root);

    function draw() {
      while (dyn.firstChild) dyn.removeChild(dyn.firstChild);
      var lr = d.lrs[st.li], thr = d.thresholds[st.ti], s = st.si;
      sth.out.textContent = String(thr);
      slr.out.textContent = String(lr);
      var g = S("g", { "clip-path": clip }, dyn), state = { lr: lr, threshold: thr, start: d.starts[s] };
      [["plain", plain, function (t, c) { return plain.at(st.li, s, t, c); }],
       ["clipped", clipped, function (t, c) { return clipped.at(st.li, st.ti, s, t, c); }]].forEach(function (q) {
        var ws = [], bs = [];
        for (var t = 0; t < n; t++) { ws.push(q[1].data[q[2](t, 0)]); bs.push(q[1].data[q[2](t, 1)]); }
        var lines = polyline(g, ws, bs, f.X, f.Y, { class: "rw-" + q[0] });
        var dots = S("g", { class: "rw-dots-" + q[0] }, g);
        for (t = 0; t < n; t++) if (isFinite(ws[t]) && isFinite(bs[t]))
          S("circle", { cx: f.X(ws[t]).toFixed(2), cy: f.Y(bs[t]).toFixed(2), r: 1.6 }, dots);
        if (lines[0]) { lines[0].setAttribute("data-w", ws.map(sig).join(",")); lines[0].setAttribute("data-b", bs.map(sig).join(",")); }
        lines.forEach(function (l) { l.setAttribute("data-method", q[0]); });
        state[q[0] + "_end"] = [sig(ws[n - 1]), sig(bs[n - 1])];
      });
      S("circle", { cx: f.X(d.starts[s][0]), cy: f.Y(d.starts[s][1]), r: 5.5, class: "rw-startpoint" }, dyn);
      var oP = d.outcomes.plain[st.li], oC = d.outcomes.clipped[st.li][st.ti];
      while (table.firstChild) table.removeChild(table.firstChild);
      var head = H("tr", {}, H("thead", {}, table));
      ["after " + d.steps + " updates", "updates clipped", "longest step", "final error", "ended in the valley (E < 0.01)", "left the valley", "final (w, b)"]
        .forEach(function (h) { H("th", {}, head, h); });
      var body = H("tbody", {}, table);
      [["plain", oP], ["clipped", oC]].forEach(function (q) {
        var o = q[1], tr = H("tr", { "data-method": q[0] }, body), th = o.final_theta[s];
        var off = th[0] === null || th[0] < d.w_range[0] || th[0] > d.w_range[1] || th[1] < d.b_range[0] || th[1] > d.b_range[1];
        [q[0] === "plain" ? "plain" : "clipped at " + thr, String(o.clip_count[s]), num(o.longest_step[s], 3), num(o.final_E[s], 4),
         o.ended_inside[s] ? "yes" : "no", o.left[s] ? "yes" : "no", "(" + num(th[0], 2) + ", " + num(th[1], 2) + ")" + (off ? " off the map" : "")]
          .forEach(function (c) { H("td", {}, tr, c); });
        state[q[0]] = { clip_count: o.clip_count[s], longest_step: o.longest_step[s], final_E: o.final_E[s],
          ended_inside: o.ended_inside[s], left: o.left[s] };
      });
      setState(root, state);
    }
    draw();
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Fig. 7: the rate of success at any update cap                                            */
  /* ---------------------------------------------------------------------------------------- */
  function caps(root, d) {
    var st = { ci: Math.max(0, d.caps.indexOf(d.initial.cap)) }, F = {};
    d.fields.forEach(function (name, i) { F[name] = i; });
    var controls = H("div", { class: "rw-controls" }, root);
    var sc = slider(controls, "update cap", d.caps.length, st.ci, function (i) { st.ci = i; draw(); });
    sc.input.setAttribute("aria-label", "update cap");
    var marks = H("datalist", { id: root.id + "-marks" }, controls);
    d.trained_caps.forEach(function (c) { H("option", { value: String(d.caps.indexOf(c)) }, marks); });
    sc.input.setAttribute("list", marks.id);
    var svg = S("svg", { viewBox: "0 0 900 316", class: "rw-svg", role: "img",
      "aria-label": "rate of success against sequence length at the chosen update cap" }, root);
    var readout = H("p", { class: "rw-readout" }, root);
    var table = H("table", { class: "rw-table" }, root);
    var panels = [], w = 270, lengths = d.lengths, xd = [lengths[0] - 15, lengths[lengths.length - 1] + 15];
    var stat = S("g", {}, svg), dyn = S("g", {}, svg);
    d.inits.forEach(function (init, i) {
      var box = { x0: 50 + i * (w + 22), x1: 50 + i * (w + 22) + w - 20, y0: 24, y1: 246 };
      var fr = frame(stat, box, xd, [-0.05, 1.05], "sequence length T", i === 0 ? "rate of success" : "",
        { xticks: lengths, yticks: [0, 0.2, 0.4, 0.6, 0.8, 1], yd: 1 });
      T(stat, box.x0, 16, d.labels.init[init], { class: "rw-title" });
      panels.push(fr);
    });
    var lg = S("g", {}, stat);
    d.methods.forEach(function (m, j) {
      S("circle", { cx: 60 + 110 * j, cy: 302, r: 4, fill: d.colors[m] }, lg);
      T(lg, 68 + 110 * j, 306, d.labels.method[m], { class: "rw-tick" });
    });
    T(lg, 400, 306, "hollow: runs censored at this cap (pale bar: if they all succeeded)", { class: "rw-tick" });

    function draw() {
      while (dyn.firstChild) dyn.removeChild(dyn.firstChild);
      var cap = d.caps[st.ci], rows = d.table[st.ci];
      var frac = d.paper_cap ? " (" + (100 * cap / d.paper_cap).toPrecision(2).replace(/\.?0+$/, "") + " % of the paper's " + grouped(d.paper_cap) + ")" : "";
      sc.out.textContent = grouped(cap) + " updates" + frac;
      var state = { cap: cap, points: {} }, byKey = {};
      d.points.forEach(function (p, k) { byKey[p.join("|")] = rows[k]; });
      var totals = {};
      d.inits.forEach(function (init, i) {
        var fr = panels[i];
        d.methods.forEach(function (m, j) {
          var xs = [], ys = [], col = d.colors[m], off = (j - (d.methods.length - 1) / 2) * 7;
          lengths.forEach(function (T_) {
            var r = byKey[[init, m, T_].join("|")];
            if (!r || !r[F.runs]) return;
            var n = r[F.runs], k = r[F.successes], c = r[F.censored], x = fr.X(T_) + off, y = fr.Y(k / n);
            xs.push(x); ys.push(y);
            S("line", { x1: x, x2: x, y1: fr.Y(r[F.ci_low]), y2: fr.Y(r[F.ci_high]), stroke: col, class: "rw-ci" }, dyn);
            if (c) S("line", { x1: x, x2: x, y1: y, y2: fr.Y((k + c) / n), stroke: col, class: "rw-censor-bar" }, dyn);
            S("circle", { cx: x, cy: y, r: 4.2, stroke: col, fill: c ? "white" : col, class: "rw-point",
              "data-key": [init, m, T_].join("|"), "data-censored": c }, dyn);
            var tm = totals[m] || (totals[m] = [0, 0, 0]);
            tm[0] += k; tm[1] += n; tm[2] += c;
          });
          if (xs.length > 1) S("polyline", { points: xs.map(function (x, q) { return x.toFixed(2) + "," + ys[q].toFixed(2); }).join(" "),
            stroke: d.colors[m], class: "rw-rate-line" }, dyn);
        });
      });
      while (table.firstChild) table.removeChild(table.firstChild);
      var head = H("tr", {}, H("thead", {}, table));
      H("th", {}, head, "solved / runs (cens.: censored, div.: diverged)");
      lengths.forEach(function (T_) { H("th", {}, head, "T = " + T_); });
      var body = H("tbody", {}, table);
      d.inits.forEach(function (init) {
        d.methods.forEach(function (m) {
          var tr = H("tr", {}, body);
          H("th", {}, tr, d.labels.init[init] + ", " + d.labels.method[m]);
          lengths.forEach(function (T_) {
            var key = [init, m, T_].join("|"), r = byKey[key], td = H("td", {}, tr);
            if (!r || !r[F.runs]) { td.textContent = "–"; return; }
            var txt = r[F.successes] + "/" + r[F.runs];
            if (r[F.censored]) txt += " (" + r[F.censored] + " cens.)";
            if (r[F.diverged]) txt += " (" + r[F.diverged] + " div.)";
            td.textContent = txt;
            td.setAttribute("data-key", key);
            if (r[F.censored]) td.className = "rw-open";
            state.points[key] = { runs: r[F.runs], successes: r[F.successes], censored: r[F.censored], diverged: r[F.diverged] };
          });
        });
      });
      readout.textContent = "Read at a cap of " + grouped(cap) + " updates" + frac + ": " + d.methods.map(function (m) {
        var t = totals[m] || [0, 0, 0];
        return d.labels.method[m] + " solved " + t[0] + " of " + t[1] + " runs (" + t[2] + " censored)";
      }).join("; ") + ". Runs trained to " + d.trained_caps.map(grouped).join(" or ") +
        " updates; a run still unsolved at its own cap stays censored at any higher cap.";
      setState(root, state);
    }
    draw();
  }

  var KINDS = { bifurcation: bifurcation, clipping: clipping, caps: caps };
  window.rnnbookWidgets = {
    mount: function (id) {
      var root = document.getElementById(id);
      if (!root || root.getAttribute("data-mounted")) return;
      var d = JSON.parse(root.querySelector("script.rnnbook-widget-data").textContent);
      KINDS[root.getAttribute("data-kind")](root, d, id);
      root.setAttribute("data-mounted", "1");
    }
  };
})();
