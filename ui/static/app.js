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
            v[p + "state"] = d.health ? d.health.state : (d.queue.paused ? "paused" : "running");
            v[p + "last_error"] = (d.queue.last_error || "").slice(0, 90);
          });
        });
        if (data.search) {
          v["search/indexed"] = data.search.indexed_through;
          v["search/latest"] = data.search.latest_id;
        }
        setK(v);
        $all("[data-k$='/state']").forEach(function (el) {
          el.classList.toggle("paused", el.textContent === "paused");
          el.classList.toggle("failing", el.textContent === "failing");
        });
        Junction.showOutages(data.channels); // outages.js
        $("#refreshed").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
      } catch (e) {
        $("#refreshed").textContent = "cannot refresh: " + e.message;
      }
      try {
        drawChart(chart, await api("GET", "/api/throughput?minutes=60"));
      } catch (e) { /* keep the last chart */ }
      try {
        showAlerts((await api("GET", "/api/alerts")).alerts);
      } catch (e) { /* keep the last alerts */ }
    }
    refresh();
    setInterval(refresh, 5000);
  }

  // showAlerts redraws the dashboard's alerts holding now (GET /api/alerts), as the
  // template drew them; hidden when none.
  function showAlerts(alerts) {
    const section = $("#alerts"), rows = $("#alert-rows");
    if (!section || !rows) return;
    section.hidden = alerts.length === 0;
    rows.replaceChildren();
    alerts.forEach(function (a) {
      const tr = document.createElement("tr");
      const cell = function () { const td = document.createElement("td"); tr.appendChild(td); return td; };
      const name = cell();
      name.textContent = a.alert;
      const desc = document.createElement("div");
      desc.className = "muted small";
      desc.textContent = a.description || "";
      name.appendChild(desc);
      const st = document.createElement("span");
      st.className = "state " + (a.state === "firing" ? "stopped" : "paused");
      st.textContent = a.state;
      cell().appendChild(st);
      const where = (a.channel || "all channels") + (a.destination ? " → " + a.destination : "");
      const w = cell();
      if (a.link) {
        const link = document.createElement("a");
        link.href = a.link;
        link.textContent = where;
        w.appendChild(link);
      } else {
        w.textContent = where;
      }
      cell().textContent = a.since ? new Date(a.since).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
      const d = cell();
      d.className = "lasterr";
      d.textContent = (a.detail || "").length > 160 ? a.detail.slice(0, 160) + "…" : (a.detail || "");
      rows.appendChild(tr);
    });
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
    if (form) Junction.timePickers(form); // outages.js: local times
    if (form) form.addEventListener("submit", function () {
      $all("input, select", form).forEach(function (el) { if (el.value === "") el.disabled = true; });
    });
    window.addEventListener("pageshow", function () {
      if (form) $all("input, select", form).forEach(function (el) { el.disabled = false; });
    });
    const box = $("#job"), bulk = $("#bulk"), countEl = $("#bulk-count");
    // countMatching asks how many messages the filter matches (as a job takes them).
    async function countMatching() {
      const c = await api("GET", "/api/messages/count" + (countEl.dataset.query ? "?" + countEl.dataset.query : ""));
      const n = c.capped ? "At least " + fmt(c.count) : fmt(c.count);
      countEl.textContent = n + " message" + (c.count === 1 ? "" : "s") + " match this filter" +
        (c.capped ? " (a job takes the newest " + fmt(c.count) + ")" : "") + ".";
      countEl.dataset.count = c.count;
      return c;
    }
    if (bulk && countEl) bulk.addEventListener("toggle", function () {
      if (bulk.open) countMatching().catch(function (e) { say(countEl, "cannot count: " + e.message, false); });
    });
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
        let c;
        try { c = await countMatching(); } catch (e) { box.hidden = false; say($("#job-text"), "cannot count the messages: " + e.message, false); return; }
        if (c.count === 0) { box.hidden = false; say($("#job-text"), "No message matches this filter: nothing to do.", false); return; }
        const what = (c.capped ? "the newest " : "") + fmt(c.count) + " message" + (c.count === 1 ? "" : "s");
        const where = Object.keys(filter).map(function (k) { return k + "=" + filter[k]; }).join(" ") || "(no filter: every message)";
        const q = body.action === "resend" ?
          "Resend " + what + " matching " + where + " to " + body.destinations.join(", ") + "?" :
          "Reprocess " + what + " matching " + where + " through their channels, as new messages?";
        if (!window.confirm(q)) return;
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

  // deliveriesText says what became of a job's deliveries (JobView.deliveries).
  function deliveriesText(d) {
    let s = fmt(d.sent) + " sent, " + fmt(d.failed) + " failed, " + fmt(d.queued) + " still queued";
    if (d.filtered) s += ", " + fmt(d.filtered) + " filtered";
    if (d.gone) s += ", " + fmt(d.gone) + " removed";
    if (d.error) s += " (" + d.error + ")";
    return s;
  }

  // followJob polls a job and shows its progress until it ends and its deliveries settle.
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
      if (j.deliveries && j.deliveries.followed) s += "; deliveries: " + deliveriesText(j.deliveries);
      text.textContent = s;
      text.className = j.failed || j.state === "failed" || (j.deliveries && j.deliveries.failed) ? "bad" : "ok";
      if (j.state === "collecting" || j.state === "running") {
        setTimeout(poll, 400);
      } else if (j.deliveries && !j.deliveries.settled && !j.deliveries.error) {
        if (cancel) cancel.hidden = true;
        setTimeout(poll, 1500);
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
    // Reprocess, with the raw content or an edit of it. HL7v2 segments come back from the
    // textarea separated by line feeds; the server makes them CR again.
    const repForm = $("#reprocess-form"), rep = $("#reprocess");
    const repToggle = $("#reprocess-edit-toggle"), repArea = $("#reprocess-content");
    if (repToggle) repToggle.addEventListener("change", function () { repArea.hidden = !repToggle.checked; });
    if (repForm) repForm.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      rep.disabled = true;
      const body = {};
      if (repToggle && repToggle.checked) body.content = repArea.value;
      try {
        const r = await api("POST", "/api/messages/" + id + "/reprocess", body);
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
          if (sig !== root.dataset.signature && !(toggle && toggle.checked) && !(repToggle && repToggle.checked)) {
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
          const d = j.deliveries || {};
          setK({ state: j.state, done: j.done, total: j.total, failed: j.failed,
            "d-sent": d.sent || 0, "d-failed": d.failed || 0, "d-queued": d.queued || 0 }, tr);
          $("progress", tr).value = Math.round(j.progress);
          if (j.state === "running" || j.state === "collecting") setTimeout(poll, 500);
          else if (!d.settled && !d.error) setTimeout(poll, 2000);
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
    // Reload when the job ends or its deliveries settle: the page then lists the outcome.
    const poll = async function () {
      const j = await api("GET", "/api/jobs/" + root.dataset.job);
      const d = j.deliveries || {};
      if (j.state === "running" || j.state === "collecting") setTimeout(poll, 1000);
      else if (!d.settled && !d.error) {
        setK({ "d-sent": d.sent, "d-failed": d.failed, "d-queued": d.queued, "d-filtered": d.filtered || 0, "d-gone": d.gone || 0 }, root);
        setTimeout(poll, 2000);
      } else location.reload();
    };
    setTimeout(poll, 1000);
  }

  // ---------------------------------------------------------------- access (admin)
  function access() {
    const result = $("#action-result");
    const form = $("#token-form");
    if (form) form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const btn = $("#token-create");
      btn.disabled = true;
      try {
        const t = await api("POST", "/api/tokens", { name: $("#token-name").value.trim(), role: $("#token-role").value });
        // The secret is shown this once; the list gets the new token's row.
        $("#token-secret").textContent = t.token;
        $("#token-secret-box").hidden = false;
        const none = $("#tokens tr.none");
        if (none) none.remove();
        const tr = document.createElement("tr");
        tr.dataset.token = t.name;
        [t.name, t.role, t.created.replace("T", " "), "", "never"].forEach(function (v) {
          const td = document.createElement("td");
          td.textContent = v;
          tr.appendChild(td);
        });
        const td = document.createElement("td");
        td.appendChild(revokeTokenButton(t.name));
        tr.appendChild(td);
        $("#tokens tbody").appendChild(tr);
        $("#token-name").value = "";
        say(result, "Token " + t.name + " (" + t.role + ") created.", true);
      } catch (e) {
        say(result, e.message, false);
      } finally {
        btn.disabled = false;
      }
    });
    function revokeTokenButton(name) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "danger token-revoke";
      b.dataset.name = name;
      b.textContent = "Revoke";
      b.addEventListener("click", revokeToken);
      return b;
    }
    async function revokeToken(ev) {
      const b = ev.currentTarget, name = b.dataset.name;
      if (!window.confirm("Revoke API token " + name + "? Scripts using it are refused from now on.")) return;
      b.disabled = true;
      try {
        await api("DELETE", "/api/tokens/" + encodeURIComponent(name));
        b.closest("tr").remove();
        say(result, "Token " + name + " revoked.", true);
      } catch (e) {
        say(result, e.message, false);
        b.disabled = false;
      }
    }
    $all("button.token-revoke").forEach(function (b) { b.addEventListener("click", revokeToken); });
    $all("button.session-revoke").forEach(function (b) {
      b.addEventListener("click", async function () {
        const tr = b.closest("tr");
        if (!window.confirm("End this session of " + tr.dataset.user + "?")) return;
        try {
          await api("DELETE", "/api/sessions/" + b.dataset.ref);
          location.reload();
        } catch (e) { say(result, e.message, false); }
      });
    });
    $all("button.user-revoke").forEach(function (b) {
      b.addEventListener("click", async function () {
        if (!window.confirm("End every session of " + b.dataset.user + "?")) return;
        try {
          const r = await api("DELETE", "/api/users/" + encodeURIComponent(b.dataset.user) + "/sessions");
          say(result, r.revoked + " session(s) of " + r.user + " ended.", true);
          setTimeout(function () { location.reload(); }, 500);
        } catch (e) { say(result, e.message, false); }
      });
    });
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
        say(out, [head].concat(r.changes, r.warnings.map(function (w) { return "warning: " + w; }),
          r.errors.map(function (e) { return "error: " + e; })).join("\n"), r.errors.length === 0);
      } catch (e) {
        say(out, e.message, false);
      }
      reloadBtn.disabled = false;
    });
  }

  const pages = { login: login, dashboard: dashboard, messages: messages, message: message, channel: channel, jobs: jobs, job: job, swagger: swagger, access: access };
  if (pages[page]) pages[page]();
})();
