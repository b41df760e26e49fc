// v2v-hub console: SLA clocks, dialogs, live updates (server-sent events), temperature charts.
// No build step; htmx and uPlot are vendored beside this file (vendor/README.md).
(function () {
  "use strict";

  function span(seconds) {
    var s = Math.abs(Math.trunc(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + String(m).padStart(2, "0") + "m";
    return m + "m " + String(sec).padStart(2, "0") + "s";
  }

  function tickClocks() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var left = (Date.parse(el.dataset.due) - now) / 1000;
      el.textContent = left >= 0 ? span(left) + " left" : "overdue " + span(left);
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("running", left >= 0);
    });
  }

  function syncVersion() {
    var c = document.querySelector("#case-body .case");
    if (!c) return;
    document.querySelectorAll("input.case-version").forEach(function (i) { i.value = c.dataset.version; });
    document.querySelectorAll(".case-version-text").forEach(function (i) { i.textContent = c.dataset.version; });
  }

  function charts() {
    if (typeof uPlot === "undefined") return;
    document.querySelectorAll(".chart").forEach(function (box) {
      if (box.dataset.rendered) return;
      var src = box.querySelector(".chart-data");
      if (!src) return;
      var d = JSON.parse(src.textContent);
      var n = d.x.length;
      var data = [d.x, d.value, d.outside, new Array(n).fill(d.max_c)];
      var series = [
        {},
        { label: "°C", stroke: "#1f4e79", width: 2 },
        { label: "outside range", stroke: "#b00020", width: 0, paths: function () { return null; },
          points: { show: true, size: 9, fill: "#b00020", stroke: "#000" } },
        { label: "upper limit " + d.max_c + " °C", stroke: "#555", dash: [6, 4], width: 1 }
      ];
      if (d.min_c !== null && d.min_c !== undefined) {
        data.push(new Array(n).fill(d.min_c));
        series.push({ label: "lower limit " + d.min_c + " °C", stroke: "#555", dash: [2, 4], width: 1 });
      }
      var width = Math.max(320, Math.min(box.clientWidth || 900, 1200));
      new uPlot({ width: width, height: 240, series: series, scales: { x: { time: true } },
                  axes: [{}, { label: "°C" }] }, data, box);
      box.dataset.rendered = "1";
    });
  }

  function streams() {
    document.querySelectorAll("[data-stream]").forEach(function (el) {
      if (el.dataset.listening) return;
      el.dataset.listening = "1";
      var es = new EventSource(el.dataset.stream);
      es.addEventListener("case", function () { htmx.trigger(el, "case-changed"); });
      es.addEventListener("queue", function () {
        htmx.ajax("GET", "/console/queue" + window.location.search, { target: "#queue", swap: "innerHTML" });
      });
      es.addEventListener("signed-out", function () { es.close(); window.location = "/console/login"; });
    });
  }

  document.addEventListener("click", function (ev) {
    var open = ev.target.closest(".open-dialog");
    if (open) { document.getElementById(open.dataset.dialog).showModal(); return; }
    var close = ev.target.closest(".close-dialog");
    if (close) { close.closest("dialog").close(); }
  });

  // a signature's re-authentication made a new session token, hence a new CSRF token
  document.addEventListener("v2v-csrf", function (ev) {
    var token = ev.detail.value;
    document.querySelectorAll("input[name=csrf]").forEach(function (i) { i.value = token; });
    document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRF-Token": token }));
  });

  document.addEventListener("htmx:afterSwap", function (ev) {
    syncVersion();
    tickClocks();
    if (ev.detail.target && ev.detail.target.id === "result") {
      var ok = ev.detail.target.querySelector("[data-status='202']");
      document.querySelectorAll("dialog[open]").forEach(function (d) { if (ok) d.close(); });
      if (ok) document.querySelectorAll("#result ~ * form, dialog form").forEach(function (f) { f.reset(); syncVersion(); });
      ev.detail.target.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    tickClocks();
    setInterval(tickClocks, 1000);
    streams();
    charts();
  });
})();
