// Junction admin UI: the little JavaScript the server-rendered pages need. Every action
// is a call of the REST API (/openapi.json). Text from the server is only ever put into
// the page with textContent, never as HTML.
"use strict";

(function () {
  const page = document.body.dataset.page;
  // The session's CSRF token, when operators log in: every mutating call carries it.
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  // api calls the REST API; mutating calls carry the header the server requires against
  // cross-site requests. It resolves to the decoded JSON, or throws an Error carrying the
  // API's {"error": "..."} text.
  async function api(method, path, body) {
    const opts = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      opts.headers["X-Requested-By"] = "junction-ui";
      if (csrf) opts.headers["X-CSRF-Token"] = csrf;
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body || {});
    }
    const resp = await fetch(path, opts);
    let data = null;
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (resp.status === 401 && page !== "login") {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    }
    if (!resp.ok) {
      throw new Error((data && data.error) || (resp.status + " " + resp.statusText));
    }
    return data;
  }

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.from((root || document).querySelectorAll(sel)); }
  function fmt(n) { return Number(n).toLocaleString("en-GB"); }
  function say(el, text, ok) {
    if (!el) return;
    el.textContent = text;
    el.className = ok ? "ok" : "bad";
  }
  // setK fills every [data-k] element under root whose key is in values.
  function setK(values, root) {
    $all("[data-k]", root).forEach(function (el) {
      const k = el.dataset.k;
      if (Object.prototype.hasOwnProperty.call(values, k) && el.textContent !== String(values[k])) {
        el.textContent = values[k];
      }
    });
  }

  // ---------------------------------------------------------------- dashboard
  function dashboard() {
    const chart = $("#chart");
    async function refresh() {
      try {
        const data = await api("GET", "/api/channels");
        const v = {};
        data.channels.forEach(function (c) {
          ["received", "filtered", "errored"].forEach(function (f) {
            v["c/" + c.name + "/" + f] = fmt(c.stats[f]);
            v["c/" + c.name + "/" + f + "/s"] = fmt(c.since_start[f]);
          });
          c.destinations.forEach(function (d) {
            const p = "d/" + c.name + "/" + d.name + "/";
            v[p + "queued"] = fmt(d.queue.depth);
            v[p + "sent"] = fmt(d.counts.sent);
            v[p + "sent/s"] = fmt(d.since_start.sent);
            v[p + "error"] = fmt(d.counts.error);
            v[p + "error/s"] = fmt(d.since_start.error);
            v[p + "state"] = d.queue.paused ? "paused" : "running";
            v[p + "last_error"] = (d.queue.last_error || "").slice(0, 90);
          });
        });
        if (data.search) {
          v["search/indexed"] = data.search.indexed_through;
          v["search/latest"] = data.search.latest_id;
        }
        setK(v);
        $all("[data-k$='/state']").forEach(function (el) { el.classList.toggle("paused", el.textContent === "paused"); });
        $("#refreshed").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
      } catch (e) {
        $("#refreshed").textContent = "cannot refresh: " + e.message;
      }
      try {
        drawChart(chart, await api("GET", "/api/throughput?minutes=60"));
      } catch (e) { /* keep the last chart */ }
    }
    refresh();
    setInterval(refresh, 5000);
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // drawChart draws received/sent/errored rates (per minute) into an SVG, from GET
  // /api/throughput: equal buckets over the last hour (or the time since start).
  function drawChart(el, tp) {
    if (!el || !tp || !tp.points) return;
    const points = tp.points, perMin = 60 / tp.bucket_seconds;
    const W = Math.max(300, Math.round(el.getBoundingClientRect().width) || 760), H = 200, L = 44, R = 14, T = 10, B = 22;
    el.setAttribute("viewBox", "0 0 " + W + " " + H);
    const rate = function (p, k) { return p[k] * perMin; };
    const max = Math.max(1, ...points.map(function (p) { return Math.max(rate(p, "received"), rate(p, "sent"), rate(p, "errored")); }));
    const step = (W - L - R) / Math.max(1, points.length - 1);
    const y = function (v) { return T + (H - T - B) * (1 - v / max); };
    while (el.firstChild) el.removeChild(el.firstChild);
    [0, 0.5, 1].forEach(function (f) {
      const yy = y(max * f);
      el.appendChild(svg("line", { x1: L, x2: W - R, y1: yy, y2: yy, "class": "grid" }));
      el.appendChild(svg("text", { x: L - 5, y: yy + 3, "text-anchor": "end" }, fmt(Math.round(max * f))));
    });
    el.appendChild(svg("line", { x1: L, x2: L, y1: T, y2: H - B, "class": "axis" }));
    el.appendChild(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis" }));
    const every = Math.max(1, Math.round(points.length / 6));
    points.forEach(function (p, i) {
      if (i % every === 0 || i === points.length - 1) {
        const t = new Date(p.at), two = function (n) { return n.toString().padStart(2, "0"); };
        let label = two(t.getUTCHours()) + ":" + two(t.getUTCMinutes());
        if (tp.bucket_seconds < 60) label += ":" + two(t.getUTCSeconds());
        el.appendChild(svg("text", { x: L + i * step, y: H - 6, "text-anchor": i === points.length - 1 ? "end" : (i === 0 ? "start" : "middle") }, label));
      }
    });
    ["received", "sent", "errored"].forEach(function (k) {
      const d = points.map(function (p, i) { return (i ? "L" : "M") + (L + i * step).toFixed(1) + " " + y(rate(p, k)).toFixed(1); }).join(" ");
      el.appendChild(svg("path", { d: d, "class": k }));
    });
    let total = 0;
    points.forEach(function (p) { total += p.received; });
    const t = $("#chart-total");
    if (t) {
      const span = Math.round(points.length * tp.bucket_seconds / 60);
      t.textContent = fmt(total) + " received in the last " + span + " min (UTC times)";
    }
  }

  // ---------------------------------------------------------------- message browser
  function messages() {
    // Keep the address short enough to paste: leave empty filters out of it.
    const form = $("#filters");
    if (form) form.addEventListener("submit", function () {
      $all("input, select", form).forEach(function (el) { if (el.value === "") el.disabled = true; });
    });
    window.addEventListener("pageshow", function () {
      if (form) $all("input, select", form).forEach(function (el) { el.disabled = false; });
    });
    const box = $("#job");
    ["bulk-resend", "bulk-reprocess"].forEach(function (id) {
      const btn = document.getElementById(id);
      if (!btn) return;
      btn.addEventListener("click", async function () {
        const filter = {};
        new URLSearchParams(btn.dataset.query).forEach(function (v, k) { filter[k] = v; });
        const body = { action: id === "bulk-resend" ? "resend" : "reprocess", filter: filter };
        if (body.action === "resend") {
          body.destinations = $all("input[name=bulk-dest]:checked").map(function (c) { return c.value; });
          if (body.destinations.length === 0) { say($("#job-text"), "choose a destination", false); box.hidden = false; return; }
        }
        btn.disabled = true;
        try {
          const job = await api("POST", "/api/jobs", body);
          box.hidden = false;
          followJob(job.id, $("#job-progress"), $("#job-text"), $("#job-cancel"), $("#job-link"));
        } catch (e) {
          box.hidden = false;
          say($("#job-text"), e.message, false);
        } finally {
          btn.disabled = false;
        }
      });
    });
  }

  // followJob polls a job and shows its progress until it ends.
  function followJob(id, bar, text, cancel, link) {
    if (link) link.href = "/jobs/" + id;
    if (cancel) {
      cancel.hidden = false;
      cancel.onclick = async function () {
        try { await api("POST", "/api/jobs/" + id + "/cancel"); } catch (e) { say(text, e.message, false); }
      };
    }
    async function poll() {
      let j;
      try { j = await api("GET", "/api/jobs/" + id); } catch (e) { say(text, e.message, false); return; }
      bar.value = Math.round(j.progress);
      let s = "job " + j.id + " " + j.state + ": " + j.done + " of " + j.total + " (" + Math.round(j.progress) + "%)";
      if (j.failed) s += ", " + j.failed + " failed";
      if (j.skipped) s += ", " + j.skipped + " skipped";
      if (j.error) s += ": " + j.error;
      text.textContent = s;
      text.className = j.failed || j.state === "failed" ? "bad" : "ok";
      if (j.state === "collecting" || j.state === "running") {
        setTimeout(poll, 400);
      } else if (cancel) {
        cancel.hidden = true;
      }
    }
    poll();
  }

  // ---------------------------------------------------------------- message detail
  function message() {
    const root = $("#message");
    const id = root.dataset.id;
    const result = $("#action-result");
    const toggle = $("#edit-toggle"), area = $("#edit-content");
    if (toggle) toggle.addEventListener("change", function () { area.hidden = !toggle.checked; });
    const form = $("#resend-form");
    if (form) form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const dests = $all("input[name=destination]:checked", form).map(function (c) { return c.value; });
      if (dests.length === 0) { say(result, "Choose at least one destination.", false); return; }
      const body = { destinations: dests };
      if (toggle.checked) body.content = area.value;
      try {
        const r = await api("POST", "/api/messages/" + id + "/resend", body);
        say(result, "Queued again for " + r.resent.join(", ") + (r.edited ? " with the edited content" : "") + ".", true);
        root.dataset.refresh = "1";
        watch();
      } catch (e) {
        say(result, e.message, false);
      }
    });
    const rep = $("#reprocess");
    if (rep) rep.addEventListener("click", async function () {
      rep.disabled = true;
      try {
        const r = await api("POST", "/api/messages/" + id + "/reprocess", {});
        say(result, "Reprocessed as message " + r.message_id + " (" + r.status + (r.error ? ": " + r.error : "") + "). Opening it…", true);
        setTimeout(function () { location.href = "/messages/" + r.message_id; }, 700);
      } catch (e) {
        say(result, e.message, false);
      } finally {
        rep.disabled = false;
      }
    });
    const rm = $("#remove");
    if (rm) rm.addEventListener("click", async function () {
      const queued = rm.dataset.queued === "1";
      let q = "Remove message " + id + " with its content and deliveries? This cannot be undone.";
      if (queued) q += "\n\nA delivery is still QUEUED: removing it now drops that delivery.";
      if (!window.confirm(q)) return;
      rm.disabled = true;
      try {
        await api("DELETE", "/api/messages/" + id + (queued ? "?force=true" : ""));
        say(result, "Message " + id + " removed. Opening the message list…", true);
        setTimeout(function () { location.href = "/messages"; }, 700);
      } catch (e) {
        say(result, e.message, false);
        rm.disabled = false;
      }
    });
    // While a delivery is queued, follow it: reload when a status changes (unless the
    // operator is editing).
    let watching = false;
    function watch() {
      if (watching) return;
      watching = true;
      const poll = async function () {
        try {
          const m = await api("GET", "/api/messages/" + id);
          let sig = m.status;
          let queued = false;
          m.destinations.forEach(function (d) {
            sig += "|" + d.name + ":" + d.status + ":" + d.attempts;
            if (d.status === "QUEUED") queued = true;
          });
          if (sig !== root.dataset.signature && !(toggle && toggle.checked)) {
            location.reload();
            return;
          }
          if (!queued && root.dataset.refresh !== "1") { watching = false; return; }
        } catch (e) { /* try again */ }
        setTimeout(poll, 1000);
      };
      setTimeout(poll, 500);
    }
    if (root.dataset.refresh === "1") watch();
  }

  // ---------------------------------------------------------------- channel
  function channel() {
    const result = $("#action-result");
    $all("button.queue-action").forEach(function (b) {
      b.addEventListener("click", async function () {
        b.disabled = true;
        const path = "/api/channels/" + encodeURIComponent(b.dataset.channel) + "/destinations/" +
          encodeURIComponent(b.dataset.dest) + "/" + b.dataset.action;
        try {
          await api("POST", path);
          location.reload();
        } catch (e) {
          say(result, e.message, false);
          b.disabled = false;
        }
      });
    });
  }

  // ---------------------------------------------------------------- jobs
  function jobs() {
    $all("tr[data-live]").forEach(function (tr) {
      const id = tr.dataset.job;
      const poll = async function () {
        try {
          const j = await api("GET", "/api/jobs/" + id);
          setK({ state: j.state, done: j.done, total: j.total, failed: j.failed }, tr);
          $("progress", tr).value = Math.round(j.progress);
          if (j.state === "running" || j.state === "collecting") setTimeout(poll, 500);
        } catch (e) { /* leave it */ }
      };
      poll();
    });
  }

  function job() {
    const root = $("#job-detail");
    const cancel = $("#job-cancel");
    if (!root.dataset.live) return;
    followJob(root.dataset.job, $("#job-progress"), $("#job-text"), cancel, null);
    const poll = async function () {
      const j = await api("GET", "/api/jobs/" + root.dataset.job);
      if (j.state === "running" || j.state === "collecting") setTimeout(poll, 1000);
      else location.reload();
    };
    setTimeout(poll, 1000);
  }

  // ---------------------------------------------------------------- API reference
  function swagger() {
    if (typeof window.SwaggerUIBundle !== "function") return;
    window.SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      requestInterceptor: function (req) {
        req.headers["X-Requested-By"] = "swagger-ui";
        if (csrf) req.headers["X-CSRF-Token"] = csrf;
        return req;
      },
    });
  }

  // ---------------------------------------------------------------- login
  function login() {
    const form = $("#login-form");
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const out = $("#login-result");
      say(out, "Logging in…", true);
      try {
        await api("POST", "/api/login", { username: $("#username").value, password: $("#password").value });
        location.href = form.dataset.next || "/";
      } catch (e) {
        say(out, e.message, false);
      }
    });
  }

  const logout = $("#logout");
  if (logout) {
    logout.addEventListener("click", async function () {
      try { await api("POST", "/api/logout"); } catch (e) { /* the session is gone anyway */ }
      location.href = "/login";
    });
  }

  // Channel stop / pause / start buttons (dashboard and channel page; operators only).
  $all("button.channel-action").forEach(function (b) {
    b.addEventListener("click", async function () {
      b.disabled = true;
      try {
        await api("POST", "/api/channels/" + encodeURIComponent(b.dataset.channel) + "/" + b.dataset.action);
        location.reload();
      } catch (e) {
        say($("#action-result"), e.message, false);
        b.disabled = false;
      }
    });
  });

  // Reload routes.yaml (dashboard; admins only): what changed, or the file's errors.
  const reloadBtn = $("#reload-config");
  if (reloadBtn) {
    reloadBtn.addEventListener("click", async function () {
      const out = $("#reload-result");
      reloadBtn.disabled = true;
      out.hidden = false;
      try {
        const r = await api("POST", "/api/reload");
        const head = "Reloaded: " + r.added.length + " added, " + r.removed.length + " removed, " +
          r.changed.length + " changed, " + r.unchanged.length + " unchanged.";
        say(out, [head].concat(r.changes, r.errors.map(function (e) { return "error: " + e; })).join("\n"), r.errors.length === 0);
      } catch (e) {
        say(out, e.message, false);
      }
      reloadBtn.disabled = false;
    });
  }

  const pages = { login: login, dashboard: dashboard, messages: messages, message: message, channel: channel, jobs: jobs, job: job, swagger: swagger };
  if (pages[page]) pages[page]();
})();
