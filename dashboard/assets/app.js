// drawbridge dashboard: polls api/state once a second and renders it. Polling rather than server-sent events: it survives the server going
// away and coming back without any reconnect logic, and one request a
// second is nothing on loopback.
"use strict";

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const fmt = (x, d = 0) => (x == null || isNaN(x) ? "–" : Number(x).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const WINDOW_MS = 120000; // the chart shows the last two minutes
const SPARK_MS = 300000; // route sparklines: the sampler's five minutes
let updates = 0;
let mode = "";

async function poll() {
  try {
    const r = await fetch("api/state", { cache: "no-store" });
    if (!r.ok) throw new Error(r.status);
    render(await r.json());
    $("live").textContent = "live";
    $("live").className = "pill";
  } catch (e) {
    $("live").textContent = "disconnected";
    $("live").className = "pill off";
  }
  setTimeout(poll, 1000);
}

function render(s) {
  updates++;
  document.body.dataset.updates = updates;
  setMode(s.mode || "local");
  renderPools(s.pools);
  renderRoutes(s);
  renderReload(s.reload);
  if (mode === "gateway") renderGatewayKPIs(s);
  else renderLocal(s);
}

// setMode shows the sections of this mode: the gateway alone has no load
// generator and no autoscaler.
function setMode(m) {
  if (m === mode) return;
  mode = m;
  $("mode").textContent = m;
  document.title = `drawbridge ${m}`;
  document.body.dataset.mode = m;
  for (const el of document.querySelectorAll("[data-mode]")) {
    if (el !== document.body) el.hidden = el.dataset.mode !== m;
  }
}

function renderLocal(s) {
  const u = s.urls;
  $("urls").innerHTML = `<a href="${esc(u.gateway)}/">gateway ${esc(u.gateway)}</a>` +
    `<a href="${esc(u.admin)}/status">/status</a><a href="${esc(u.admin)}/metrics">/metrics</a>` +
    `<span class="muted">up ${fmt((Date.parse(s.time) - Date.parse(s.started)) / 1000)} s</span>`;

  const l = s.load;
  $("kpi-rps").textContent = fmt(l.rps);
  $("kpi-demand").textContent = `demand ${fmt(l.target_rps)} req/s`;
  $("kpi-p99").textContent = fmt(l.p99_ms, 1);
  $("kpi-requests").textContent = fmt(l.requests);
  $("kpi-errors").innerHTML = l.errors ? `<span class="badge bad">${fmt(l.errors)} errors</span> ${esc(l.last_error)}` : "0 errors";
  $("kpi-pattern").textContent = `${l.pattern} at ${fmt(l.speed)}× speed`;

  let healthy = 0, total = 0;
  for (const p of s.pools) for (const b of p.backends) { total++; if (b.available) healthy++; }
  $("kpi-healthy").textContent = `${healthy}/${total}`;
  const g = s.groups[0];
  if (g) {
    $("kpi-capacity").textContent = g.desired;
    $("kpi-capacity-sub").textContent = `${g.in_service} in service, ${g.warming} warming; ${g.min}–${g.max}`;
  }

  renderGroups(s.groups);
  renderDecisions(s.decisions);
  renderChart(s);
}

function healthBadge(b) {
  if (b.drained) return `<span class="badge warn">drained</span>`;
  if (b.ejected) return `<span class="badge warn">ejected</span>`;
  if (!b.healthy) return `<span class="badge bad">unhealthy</span>`;
  if (!b.available) return `<span class="badge warn">unavailable</span>`;
  return `<span class="badge ok">healthy</span>`;
}

function circuitBadge(c) {
  if (!c) return `<span class="muted">off</span>`;
  const cls = c === "closed" ? "ok" : c === "open" ? "bad" : "warn";
  return `<span class="badge ${cls}">${esc(c)}</span>`;
}

function renderPools(pools) {
  $("pools").innerHTML = pools.map((p) => `
    <div class="pool-name">${esc(p.name)} <span class="muted">${esc(p.strategy)} · ${p.available} available</span></div>
    <table id="backends">
      <thead><tr><th>backend</th><th>address</th><th>health</th><th>circuit</th>
        <th class="num">in-flight</th><th class="num">req/s</th><th class="num">requests</th><th class="num">failures</th><th class="num">latency</th><th></th></tr></thead>
      <tbody>${p.backends.map((b) => `
        <tr class="backend" data-id="${esc(b.id)}">
          <td>${esc(b.id)}</td><td class="muted">${esc(b.address)}</td><td>${healthBadge(b)}</td><td>${circuitBadge(b.circuit)}</td>
          <td class="num">${b.inflight}</td><td class="num">${fmt(b.rps, 1)}</td><td class="num">${fmt(b.requests)}</td>
          <td class="num">${fmt(b.failures)}</td><td class="num">${fmt(b.latency_ms, 2)} ms</td>
          <td><button class="act" data-pool="${esc(p.name)}" data-id="${esc(b.id)}" data-action="${b.drained ? "undrain" : "drain"}"
            title="${b.drained ? "take new requests again (slow start applies)" : "take no new requests; in-flight ones finish"}">${b.drained ? "undrain" : "drain"}</button></td>
        </tr>`).join("")}</tbody>
    </table>`).join("");
}

function renderGroups(groups) {
  $("groups").innerHTML = groups.map((g) => {
    const d = g.last_decision;
    return `<div class="group">
      <div class="pool-name">${esc(g.name)} <span class="muted">${esc(g.policies.join(", "))}, target ${fmt(g.target_per_instance)} req/s per backend</span></div>
      <div class="bar" title="desired ${g.desired} of max ${g.max}"><span style="width:${(100 * g.desired) / Math.max(g.max, 1)}%"></span></div>
      <dl>
        <dt>current → desired</dt><dd><b>${g.current} → ${g.desired}</b></dd>
        <dt>in service / warming</dt><dd>${g.in_service} / ${g.warming}</dd>
        <dt>bounds</dt><dd>${g.min}–${g.max}</dd>
        <dt>last change</dt><dd>${d ? `<span class="badge ${esc(d.direction)}">${esc(d.direction)}</span> ${d.from} → ${d.to} by ${esc(d.policy)}` : '<span class="muted">none yet</span>'}</dd>
      </dl></div>`;
  }).join("");
}

function renderDecisions(ds) {
  if (!ds.length) return;
  $("decisions").innerHTML = ds.map((d) => `
    <tr class="decision"><td>${esc(new Date(d.time).toLocaleTimeString([], { hour12: false }))}</td><td>${esc(d.group)}</td>
      <td><span class="badge ${esc(d.direction)}">${esc(d.direction)}</span> ${d.from} → ${d.to}</td>
      <td>${esc(d.policy)}</td><td>${esc(d.reason)}</td></tr>`).join("");
}

function renderChart(s) {
  const svg = $("capacity-chart");
  const W = Math.max(svg.clientWidth || 1000, 300), H = 240, padL = 44, padR = 8, padT = 8, padB = 20;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const now = Date.parse(s.time);
  // The last two minutes, or since the start (at least 30 s) when younger.
  const first = s.series.length ? s.series[0].t : now;
  const t0 = Math.max(now - WINDOW_MS, Math.min(first, now - 30000));
  const pts = s.series.filter((p) => p.t >= t0);
  const fc = s.forecast.filter((p) => p.t >= t0);
  const t1 = Math.max(now, ...fc.map((p) => p.t));
  let ymax = 10;
  for (const p of pts) ymax = Math.max(ymax, p.demand, p.load, p.capacity);
  for (const p of fc) ymax = Math.max(ymax, p.value);
  ymax = niceCeil(ymax * 1.05);
  const x = (t) => padL + ((t - t0) / (t1 - t0)) * (W - padL - padR);
  const y = (v) => padT + (1 - v / ymax) * (H - padT - padB);
  const line = (arr, f, t = (p) => p.t) => arr.map((p) => `${x(t(p)).toFixed(1)},${y(f(p)).toFixed(1)}`).join(" ");

  $("line-demand").setAttribute("points", line(pts, (p) => p.demand));
  $("line-load").setAttribute("points", line(pts, (p) => p.load));
  $("line-forecast").setAttribute("points", line(fc, (p) => p.value));
  // Capacity changes in steps: draw it as a staircase.
  const cap = [];
  pts.forEach((p, i) => {
    if (i > 0) cap.push(`${x(p.t).toFixed(1)},${y(pts[i - 1].capacity).toFixed(1)}`);
    cap.push(`${x(p.t).toFixed(1)},${y(p.capacity).toFixed(1)}`);
  });
  const capLine = $("line-capacity");
  capLine.setAttribute("points", cap.join(" "));
  capLine.dataset.points = pts.length;
  const nl = $("now");
  nl.setAttribute("x1", x(now)); nl.setAttribute("x2", x(now)); nl.setAttribute("y2", H - padB);

  let grid = "";
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4, yy = y(v).toFixed(1);
    grid += `<line x1="${padL}" x2="${W - padR}" y1="${yy}" y2="${yy}"></line><text x="${padL - 6}" y="${+yy + 4}" text-anchor="end">${fmt(v)}</text>`;
  }
  const span = (now - t0) / 1000, tick = span > 60 ? 30 : 10;
  for (let s2 = 0; s2 <= span; s2 += tick) {
    const xx = x(now - s2 * 1000).toFixed(1);
    grid += `<text x="${xx}" y="${H - 5}" text-anchor="middle">${s2 ? "-" + s2 + "s" : "now"}</text>`;
  }
  grid += `<text x="${padL + 4}" y="${padT + 10}">req/s</text>`;
  $("grid").innerHTML = grid;
  $("forecast-note").textContent = fc.length
    ? "Forecast: seasonal naive (each second as one replayed day earlier), shown for comparison; the autoscaler here acts by target tracking — its predictive policy needs 24 h of history."
    : "Forecast: appears after one replayed day (seasonal naive). The autoscaler here acts by target tracking; its predictive policy needs 24 h of history.";
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function renderGatewayKPIs(s) {
  // A configured port 0 was picked at start: the address is in the log.
  const listen = s.listen && !s.listen.endsWith(":0") ? `<span>listening on ${esc(s.listen)}</span>` : "";
  $("urls").innerHTML = `${listen}<a href="/status">/status</a><a href="/metrics">/metrics</a>` +
    `<span class="muted">up ${fmt((Date.parse(s.time) - Date.parse(s.started)) / 1000)} s</span>`;
  // The last five seconds: one-second points alone jitter too much to read.
  let rps = 0, errs = 0, p99 = 0, slowest = "";
  for (const r of s.routes) {
    const last = r.series.slice(-5);
    if (!last.length) continue;
    const rr = last.reduce((a, p) => a + p.rps, 0) / last.length;
    rps += rr;
    errs += last.reduce((a, p) => a + p.rps * p.error_rate, 0) / last.length;
    for (const p of last) if (p.p99_ms > p99) { p99 = p.p99_ms; slowest = r.name; }
  }
  $("kpi-g-rps").textContent = fmt(rps, 1);
  $("kpi-g-errors").textContent = rps ? fmt((100 * errs) / rps, 2) : "0";
  $("kpi-g-p99").textContent = fmt(p99, 1);
  $("kpi-g-p99-sub").textContent = slowest ? `slowest route: ${slowest}` : "no traffic in the last 5 s";
  let avail = 0, total = 0, drained = 0;
  for (const p of s.pools) for (const b of p.backends) { total++; if (b.available) avail++; if (b.drained) drained++; }
  $("kpi-g-healthy").textContent = `${avail}/${total}`;
  $("kpi-g-drained").textContent = drained ? `${drained} drained` : "none drained";
  const rl = s.reload;
  if (rl) {
    $("kpi-g-gen").textContent = `gen ${rl.generation}`;
    $("kpi-g-reload").innerHTML = rl.last_result === "failure" ? `<span class="badge bad">last reload refused</span>`
      : rl.last_result === "success" ? `reloaded ${esc(clock(rl.last_at))}` : `loaded ${esc(clock(rl.loaded_at))}`;
  }
}

function clock(t) {
  return new Date(t).toLocaleTimeString([], { hour12: false });
}

function renderRoutes(s) {
  if (!s.routes || !s.routes.length) return;
  const now = Date.parse(s.time);
  $("routes").innerHTML = s.routes.map((r) => {
    const last = r.series.length ? r.series[r.series.length - 1] : null;
    return `<tr class="route" data-name="${esc(r.name)}" data-points="${r.series.length}">
      <td>${esc(r.name)}</td><td class="muted">${esc(r.match)}${r.pool ? " → " + esc(r.pool) : ""}</td>
      <td class="num">${last ? fmt(last.rps, 1) : "–"}</td><td class="spark-cell">${spark(r.series, (p) => p.rps, "spark-rps", now)}</td>
      <td class="num">${last ? fmt(100 * last.error_rate, 1) + " %" : "–"}</td><td class="spark-cell">${spark(r.series, (p) => p.error_rate, "spark-err", now, 0.05)}</td>
      <td class="num">${last && last.rps ? fmt(last.p50_ms, 2) + " ms" : "–"}</td>
      <td class="num">${last && last.rps ? fmt(last.p99_ms, 2) + " ms" : "–"}</td><td class="spark-cell">${spark(r.series, (p) => p.p99_ms, "spark-p99", now)}</td></tr>`;
  }).join("");
}

// spark draws values over time as an inline SVG line;
// floor is the least top of the scale, so that a few errors in a
// thousand stay a low line rather than filling the box.
function spark(pts, f, cls, now, floor = 0) {
  const W = 140, H = 26;
  // Five minutes, or since the first point (at least one) when younger.
  const first = pts.length ? pts[0].t : now;
  const t0 = Math.max(now - SPARK_MS, Math.min(first, now - 60000)), span = Math.max(now - t0, 1);
  const shown = pts.filter((p) => p.t >= t0);
  const top = Math.max(floor, ...shown.map(f)) || 1;
  const xy = shown.map((p) => `${(((p.t - t0) / span) * W).toFixed(1)},${(H - 1 - (f(p) / top) * (H - 2)).toFixed(1)}`).join(" ");
  return `<svg class="spark" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" aria-hidden="true"><polyline class="${cls}" points="${xy}"></polyline></svg>`;
}

function renderReload(rl) {
  if (!rl) return;
  const when = (t) => (t && !t.startsWith("0001-") ? esc(new Date(t).toLocaleString([], { hour12: false })) : "");
  let h = `<dt>config file</dt><dd>${rl.file ? esc(rl.file) : '<span class="muted">none: set by flags, no reload</span>'}</dd>
    <dt>generation</dt><dd>${rl.generation}, applied ${when(rl.loaded_at)}</dd>
    <dt>reloads</dt><dd>${rl.attempts} tried, ${rl.failures} refused</dd>
    <dt>last reload</dt><dd id="reload-result">${rl.last_result === "success" ? '<span class="badge ok">applied</span>'
      : rl.last_result === "failure" ? '<span class="badge bad">refused</span> the previous configuration keeps serving'
      : '<span class="muted">none since start</span>'} ${when(rl.last_at)}</dd>`;
  if (rl.last_error) h += `<dt>last error</dt><dd>${when(rl.last_error_at)}<pre id="reload-error">${esc(rl.last_error)}</pre></dd>`;
  $("reload").innerHTML = h;
}

// Drain and undrain go through the admin API. A loopback browser needs no
// token; elsewhere the API answers 401 and the page asks for the token
// once per tab (sessionStorage, never a cookie: a cookie would ride along
// on cross-site requests).
async function act(btn) {
  const { pool, id, action } = btn.dataset;
  const url = `/pools/${encodeURIComponent(pool)}/backends/${encodeURIComponent(id)}/${action}`;
  btn.disabled = true;
  try {
    let r = await post(url);
    if (r.status === 401) {
      const tok = window.prompt("Admin token (" + (await r.text()).trim() + ")");
      if (tok) {
        sessionStorage.setItem("drawbridge-admin-token", tok);
        r = await post(url);
      }
    }
    $("action-msg").textContent = r.ok ? `${action}ed ${id}` : `${action} ${id}: ${r.status} ${(await r.text()).trim()}`;
  } catch (e) {
    $("action-msg").textContent = `${action} ${id}: ${e}`;
  }
  btn.disabled = false;
}

function post(url) {
  const headers = {};
  const tok = sessionStorage.getItem("drawbridge-admin-token");
  if (tok) headers.Authorization = `Bearer ${tok}`;
  return fetch(url, { method: "POST", headers, cache: "no-store" });
}

$("pools").addEventListener("click", (e) => {
  const btn = e.target.closest("button.act");
  if (btn) act(btn);
});

poll();
