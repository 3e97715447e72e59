// mcts-reason tree viewer: a small vanilla-JS SVG renderer, no dependencies, no network.
// Only expanded nodes are laid out and drawn, so a 10,000-node tree costs what its visible part costs.
"use strict";
(function () {
  const INITIAL_DEPTH = 1;     // nodes shallower than this start expanded (plus the principal line)
  const EXPAND_LIMIT = 5000;   // "Expand level" refuses to show more nodes than this at once
  const DX = 26, DY = 96, MARGIN = 40, LABEL_CHARS = 16, MAX_RESULTS = 200;
  const SVGNS = "http://www.w3.org/2000/svg";

  const raw = JSON.parse(document.getElementById("tree-data").textContent);
  const meta = raw.graph || {};
  const col = {};
  raw.fields.forEach((f, i) => { col[f] = i; });
  const nodes = raw.nodes.map((r) => ({
    id: r[col.id], parent: r[col.parent], step: r[col.step], state: r[col.state],
    visits: r[col.visits], value: r[col.value], prior: r[col.prior], status: r[col.status],
    depth: r[col.depth], solution: !!r[col.solution], principal: !!r[col.principal],
    children: [], expanded: false, x: 0, y: 0,
  }));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  let root = null;
  for (const n of nodes) {
    if (n.parent === -1 || !byId.has(n.parent)) root = root || n;
    else byId.get(n.parent).children.push(n);
  }
  for (const n of nodes) n.children.sort((a, b) => a.id - b.id);
  const maxVisits = nodes.reduce((m, n) => Math.max(m, n.visits), 1);
  const solved = !!meta.solved;
  // Colour spans the values this search actually saw, so low-value trees still show contrast.
  const seen = nodes.filter((n) => n.visits > 0).map((n) => n.value);
  let vLo = seen.length ? seen.reduce((a, b) => Math.min(a, b)) : 0;
  let vHi = seen.length ? seen.reduce((a, b) => Math.max(a, b)) : 1;
  if (!(vHi - vLo > 1e-9)) { vLo = 0; vHi = 1; }

  const svg = document.getElementById("tree");
  const canvas = document.getElementById("canvas");
  let selected = null, zoom = 1, matches = new Set(), matchList = [], matchCursor = -1;
  let width = 0, height = 0;

  function initialExpansion() {
    for (const n of nodes) {
      n.expanded = n.children.length > 0 && (n.depth < INITIAL_DEPTH || n.principal);
    }
  }

  function shortLabel(n) {
    if (n === root) return n.state;
    let s = n.step;
    const cut = s.indexOf(" (");
    if (cut > 0) s = s.slice(0, cut);
    return s.length > LABEL_CHARS ? s.slice(0, LABEL_CHARS - 1) + "…" : s;
  }

  function colour(n) {
    if (n.visits === 0) return "#c8c8c8";
    const v = Math.max(0, Math.min(1, (n.value - vLo) / (vHi - vLo)));
    return "hsl(" + Math.round(120 * v) + ",70%," + (v > 0.6 ? 42 : 50) + "%)";
  }

  function radius(n) { return 4 + 12 * Math.sqrt(n.visits / maxVisits); }

  // Tidy-enough layout in one depth-first pass: leaves take consecutive columns (narrow, as their
  // labels are slanted; wider where the dot is big), a parent sits centred over its first and last
  // visible child, and the next subtree starts right of an open node's label. Iterative, so deep
  // trees cannot overflow the stack. Returns the visible nodes in depth-first order.
  function layout() {
    const order = [];
    const stack = [[root, false]];
    let cursor = MARGIN, maxDepth = 0;
    while (stack.length) {
      const [n, done] = stack.pop();
      if (done) {
        n.x = (n.children[0].x + n.children[n.children.length - 1].x) / 2;
        cursor = Math.max(cursor, n.x + radius(n) + 10 + 6.6 * shortLabel(n).length);
        continue;
      }
      order.push(n);
      n.y = MARGIN + 10 + (n.depth - root.depth) * DY;
      maxDepth = Math.max(maxDepth, n.depth - root.depth);
      if (n.expanded) {
        stack.push([n, true]);
        for (let i = n.children.length - 1; i >= 0; i--) stack.push([n.children[i], false]);
      } else {
        const w = Math.max(DX, 2 * radius(n) + 8);
        n.x = cursor + w / 2;
        cursor += w;
      }
    }
    width = cursor + MARGIN + 90;
    height = 2 * MARGIN + 90 + maxDepth * DY;
    return order;
  }

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVGNS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function edgePath(p, c) {
    const y1 = p.y + radius(p), y2 = c.y - radius(c), my = (y1 + y2) / 2;
    return "M" + p.x + " " + y1 + "C" + p.x + " " + my + " " + c.x + " " + my + " " + c.x + " " + y2;
  }

  function render() {
    const t0 = performance.now();
    const order = layout();
    const plain = [], sol = [], pri = [];
    for (const n of order) {
      if (!n.expanded) continue;
      for (const c of n.children) {
        const d = edgePath(n, c);
        if (c.solution) sol.push(d);
        else if (!solved && c.principal) pri.push(d);
        else plain.push(d);
      }
    }
    const frag = document.createDocumentFragment();
    const g = el("g", { transform: "scale(" + zoom + ")" }, frag);
    el("path", { class: "edges", d: plain.join("") }, g);
    el("path", { class: "edges principal", d: pri.join("") }, g);
    el("path", { class: "edges solution", d: sol.join("") }, g);
    const layer = el("g", { class: "nodes" }, g);
    for (const n of order) {
      const cls = ["node", n.status];
      if (n.solution) cls.push("solution");
      else if (!solved && n.principal) cls.push("principal");
      if (n === selected) cls.push("selected");
      if (matches.has(n.id)) cls.push("match");
      if (n.children.length) cls.push(n.expanded ? "expanded" : "collapsed");
      const r = radius(n);
      const ng = el("g", { class: cls.join(" "), "data-id": n.id, transform: "translate(" + n.x + "," + n.y + ")" }, layer);
      el("circle", { class: "halo", r: r + 7 }, ng);
      if (n.status === "win" || n.status === "loss") el("circle", { class: "ring", r: r + 3.5 }, ng);
      el("circle", { class: "dot", r: r, fill: colour(n) }, ng);
      // Open nodes: label to the right; leaves and closed nodes: slanted label below.
      const label = n.expanded
        ? el("text", { class: "open", x: r + 5, y: 4 }, ng)
        : el("text", { class: "slant", transform: "translate(-2," + (r + 7) + ") rotate(40)" }, ng);
      label.textContent = shortLabel(n);
      if (n.children.length && !n.expanded) {
        const more = el("text", { class: "more", x: 0, y: -r - 4 }, ng);
        more.textContent = "+" + n.children.length;
      }
      const tip = el("title", {}, ng);
      tip.textContent = (n.step || n.state) + "\nN=" + n.visits + "  Q=" + n.value.toFixed(3);
    }
    svg.setAttribute("width", Math.ceil(width * zoom));
    svg.setAttribute("height", Math.ceil(height * zoom));
    svg.replaceChildren(frag);
    svg.dataset.visible = String(order.length);
    svg.dataset.renderMs = (performance.now() - t0).toFixed(1);
    summary(order.length);
  }

  function summary(visible) {
    const box = document.getElementById("summary");
    box.replaceChildren();
    const add = (text, cls) => {
      const s = document.createElement("span");
      if (cls) s.className = cls;
      s.textContent = text;
      box.appendChild(s);
    };
    add((meta.puzzle || "puzzle") + " " + (meta.instance || "") + " · " + (meta.algo || "") + " · ");
    if (solved) add("solved: " + meta.answer, "solved");
    else add(meta.proved_unsolvable ? "proved unsolvable" : "unsolved (" + (meta.stop_reason || "") + ")", "unsolved");
    add(" · " + nodes.length + " nodes, ", "muted");
    const v = document.createElement("span");
    v.id = "visible-count";
    v.textContent = String(visible);
    v.className = "muted";
    box.appendChild(v);
    add(" shown", "muted");
  }

  function fmt(x, digits) { return typeof x === "number" ? x.toFixed(digits) : String(x); }

  function showDetail(n) {
    document.getElementById("detail-hint").hidden = true;
    const dl = document.getElementById("detail-fields");
    dl.replaceChildren();
    const rows = [
      ["step", n === root ? "(root)" : n.step], ["state", n.state], ["visits", String(n.visits)],
      ["value", n.visits ? fmt(n.value, 4) : "– (not visited)"], ["prior", fmt(n.prior, 4)], ["status", n.status],
      ["depth", String(n.depth)], ["order", String(n.id)], ["children", String(n.children.length)],
      ["solution", n.solution ? "yes" : "no"],
    ];
    for (const [k, v] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.id = "detail-" + k;
      dd.textContent = v;
      dl.append(dt, dd);
    }
    const path = document.getElementById("detail-path");
    path.replaceChildren();
    const chain = [];
    for (let m = n; m; m = byId.get(m.parent)) chain.push(m);
    chain.reverse();
    for (const m of chain) {
      const li = document.createElement("li");
      li.textContent = m === root ? m.state : m.step;
      li.addEventListener("click", () => focusNode(m));
      path.appendChild(li);
    }
  }

  function reveal(n) {
    for (let m = byId.get(n.parent); m; m = byId.get(m.parent)) m.expanded = true;
  }

  function scrollTo(n) {
    canvas.scrollLeft = n.x * zoom - canvas.clientWidth / 2;
    canvas.scrollTop = n.y * zoom - canvas.clientHeight / 3;
  }

  // Select a node from a list (search results, path): open its ancestors, leave the node itself.
  function focusNode(n) {
    selected = n;
    reveal(n);
    render();
    showDetail(n);
  }

  // Clicking a node selects it and toggles it: a collapsed node opens, an open one closes.
  svg.addEventListener("click", (ev) => {
    const g = ev.target.closest(".node");
    if (!g) return;
    const n = byId.get(Number(g.dataset.id));
    if (n.children.length) n.expanded = !n.expanded;
    selected = n;
    render();
    showDetail(n);
  });

  function runSearch() {
    const q = document.getElementById("search").value.trim().toLowerCase();
    const list = document.getElementById("search-results");
    list.replaceChildren();
    matches = new Set();
    matchList = [];
    matchCursor = -1;
    if (q) {
      for (const n of nodes) if (n.step.toLowerCase().includes(q)) { matches.add(n.id); matchList.push(n); }
      matchList.slice(0, MAX_RESULTS).forEach((n) => {
        const li = document.createElement("li");
        li.textContent = n.step + "  (N=" + n.visits + ")";
        li.dataset.id = n.id;
        li.addEventListener("click", () => { focusNode(n); scrollTo(n); });
        list.appendChild(li);
      });
    }
    document.getElementById("search-count").textContent =
      q ? matchList.length + (matchList.length === 1 ? " match" : " matches") : "";
    render();
  }

  let searchTimer = 0;
  const searchBox = document.getElementById("search");
  searchBox.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 120); });
  searchBox.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    clearTimeout(searchTimer);
    if (!matchList.length || searchBox.value.trim().toLowerCase() !== (searchBox.dataset.last || "")) {
      runSearch();
      searchBox.dataset.last = searchBox.value.trim().toLowerCase();
    }
    if (!matchList.length) return;
    matchCursor = (matchCursor + 1) % matchList.length;
    const n = matchList[matchCursor];
    focusNode(n);
    scrollTo(n);
  });

  document.getElementById("btn-expand").addEventListener("click", () => {
    const order = layout();
    const fresh = order.filter((n) => !n.expanded && n.children.length);
    const extra = fresh.reduce((s, n) => s + n.children.length, 0);
    if (order.length + extra > EXPAND_LIMIT) {
      document.getElementById("search-count").textContent = "too many to expand (" + (order.length + extra) + ")";
      return;
    }
    for (const n of fresh) n.expanded = true;
    render();
  });
  document.getElementById("btn-reset").addEventListener("click", () => { initialExpansion(); zoom = 1; render(); home(); });
  document.getElementById("btn-zoom-in").addEventListener("click", () => { zoom = Math.min(3, zoom * 1.25); render(); });
  document.getElementById("btn-zoom-out").addEventListener("click", () => { zoom = Math.max(0.1, zoom / 1.25); render(); });

  // Drag to pan.
  let drag = null;
  canvas.addEventListener("mousedown", (ev) => {
    if (ev.target.closest(".node")) return;
    drag = { x: ev.clientX, y: ev.clientY, left: canvas.scrollLeft, top: canvas.scrollTop };
    canvas.classList.add("dragging");
  });
  window.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    canvas.scrollLeft = drag.left - (ev.clientX - drag.x);
    canvas.scrollTop = drag.top - (ev.clientY - drag.y);
  });
  window.addEventListener("mouseup", () => { drag = null; canvas.classList.remove("dragging"); });

  // Start with the root and the end of the principal line both in view when they fit.
  function home() {
    let end = root;
    for (const n of nodes) if (n.principal && n.depth > end.depth) end = n;
    canvas.scrollLeft = ((root.x + end.x) / 2) * zoom - canvas.clientWidth / 2;
    canvas.scrollTop = 0;
  }

  // A link can name a node to open at: tree.html#node=42 (its creation order).
  function fromHash() {
    const m = /^#node=(\d+)$/.exec(location.hash);
    const n = m && byId.get(Number(m[1]));
    if (n) { focusNode(n); scrollTo(n); }
  }
  window.addEventListener("hashchange", fromHash);

  document.getElementById("legend-lo").textContent = vLo.toFixed(2);
  document.getElementById("legend-mid").textContent = ((vLo + vHi) / 2).toFixed(2);
  document.getElementById("legend-hi").textContent = vHi.toFixed(2);
  initialExpansion();
  render();
  home();
  fromHash();
  document.body.dataset.ready = "1";
})();
