// Junction admin UI: local times and outage flags (outages.go, localtime.go), beside
// app.js, which uses them (window.Junction). Text from the server is only ever put into
// the page with textContent, never as HTML.
"use strict";

window.Junction = (function () {
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.from((root || document).querySelectorAll(sel)); }

  // ---------------------------------------------------------------- local times
  // Times are stored and sent to the API in UTC; the pages show them in the browser's
  // time zone (<time class="local" datetime="RFC 3339">, the UTC text in its title).
  function two(n) { return String(n).padStart(2, "0"); }
  function localText(d) {
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
      two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
  }
  // pickerValue is a Date as a datetime-local input's value (local time).
  function pickerValue(d) { return localText(d).replace(" ", "T"); }
  // zoneName names the browser's time zone with its offset now, e.g. "Europe/London, UTC+01:00".
  function zoneName() {
    const off = -new Date().getTimezoneOffset(), a = Math.abs(off);
    const utc = "UTC" + (off < 0 ? "-" : "+") + two(Math.floor(a / 60)) + ":" + two(a % 60);
    let name = "";
    try { name = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* none */ }
    return name ? name + ", " + utc : utc;
  }
  // parseUTC reads a since/until value as the server does: without a zone it is UTC.
  function parseUTC(v) {
    v = v.trim().replace(" ", "T");
    if (/T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(v)) v += "Z";
    const d = new Date(v);
    return isNaN(d.getTime()) ? null : d;
  }
  function localiseTimes() {
    $all("time.local[datetime]").forEach(function (el) {
      const d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d.getTime())) el.textContent = localText(d);
    });
    $all(".tz-name").forEach(function (el) { el.textContent = "(" + zoneName() + ")"; });
  }
  // timePickers wires the message list's since/until pickers: each datetime-local input
  // (local time) fills its hidden field (UTC, RFC 3339) when the form is sent, and shows
  // the field's UTC value back in local time. It runs before the form's other submit
  // handler, which leaves empty fields out.
  function timePickers(form) {
    const pickers = $all("input[type=datetime-local][data-utc]", form);
    pickers.forEach(function (p) {
      const hidden = document.getElementById(p.dataset.utc);
      const d = hidden && hidden.value ? parseUTC(hidden.value) : null;
      if (d) p.value = pickerValue(d);
      p.title = "in your time zone (" + zoneName() + "); sent to the server in UTC";
    });
    const note = $("#tz-note");
    if (note) note.textContent = "Since and until are in your browser's time zone (" + zoneName() + "); the address holds them in UTC.";
    form.addEventListener("submit", function () {
      pickers.forEach(function (p) {
        const hidden = document.getElementById(p.dataset.utc);
        if (!hidden) return;
        const d = p.value ? new Date(p.value) : null; // a datetime-local value is local time
        hidden.value = d && !isNaN(d.getTime()) ? d.toISOString().replace(/\.\d+Z$/, "Z") : "";
      });
    });
  }

  // showOutages redraws the dashboard's outage flags from GET /api/channels (outages.go):
  // failing destinations (in local time), growing or old queues, silent sources.
  function showOutages(channels) {
    const ago = function (t) {
      const min = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 60000));
      return min < 120 ? min + " min" : Math.floor(min / 60) + " h " + (min % 60) + " min";
    };
    channels.forEach(function (c) {
      const silent = document.querySelector('[data-silent="' + CSS.escape(c.name) + '"]');
      if (silent && c.health) {
        silent.hidden = !c.health.silent;
        if (c.health.last_received) {
          silent.textContent = "silent for " + ago(c.health.last_received) + " (last message " + localText(new Date(c.health.last_received)) + ")";
        }
      }
      c.destinations.forEach(function (d) {
        const tr = document.querySelector('tr[data-dest="' + CSS.escape(c.name + "/" + d.name) + '"]');
        const h = d.health;
        if (!tr || !h) return;
        tr.classList.toggle("failing", h.failing);
        const box = $(".outage", tr);
        if (!box) return;
        const flags = [];
        if (h.failing) {
          let t = "failing";
          if (h.failing_since) {
            const at = new Date(h.failing_since);
            t += " since " + two(at.getHours()) + ":" + two(at.getMinutes()) + " (" + ago(h.failing_since) + ")";
          }
          if (h.last_error) t += ": " + h.last_error;
          flags.push(["bad", t]);
        }
        if (h.growing) flags.push(["warn", "queue growing"]);
        if (h.old && h.oldest_queued) flags.push(["bad", "oldest queued message received " + ago(h.oldest_queued) + " ago (over " + h.old_after + ")"]);
        box.replaceChildren();
        flags.forEach(function (f) {
          const div = document.createElement("div");
          div.className = "flag " + f[0];
          div.textContent = f[1];
          box.appendChild(div);
        });
      });
    });
  }

  localiseTimes(); // deferred: the page is parsed
  return { showOutages: showOutages, timePickers: timePickers, localiseTimes: localiseTimes };
})();
