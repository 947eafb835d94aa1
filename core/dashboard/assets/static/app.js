// Live updates: the server sends an event when a run's files change; the
// page then fetches itself once and swaps the parts marked data-live.
// Fetches are at least a second apart; there is no polling.
(function () {
  "use strict";
  var body = document.body;
  if (body.dataset.live !== "on" || !window.EventSource || !window.fetch) {
    return;
  }
  var run = body.dataset.run || "";
  var status = document.getElementById("live-status");
  var busy = false, dirty = false, timer = null, last = 0;

  function show(text, cls) {
    if (status) {
      status.textContent = text;
      status.className = "live " + (cls || "");
    }
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var parts = document.querySelectorAll("[data-live]");
    for (var i = 0; i < parts.length; i++) {
      var fresh = doc.getElementById(parts[i].id);
      if (fresh) {
        parts[i].replaceWith(document.importNode(fresh, true));
      }
    }
    body.dataset.updates = String(Number(body.dataset.updates || 0) + 1);
    show("live · updated " + new Date().toLocaleTimeString(), "ok");
  }

  function refresh() {
    timer = null;
    var wait = 1000 - (Date.now() - last);
    if (busy || wait > 0) {
      dirty = true;
      if (!busy && !timer) {
        timer = setTimeout(refresh, wait);
      }
      return;
    }
    busy = true;
    dirty = false;
    last = Date.now();
    fetch(location.href, {credentials: "same-origin", headers: {"X-Live": "1"}})
      .then(function (r) {
        if (!r.ok) {
          throw new Error("HTTP " + r.status);
        }
        return r.text();
      })
      .then(swap)
      .catch(function (e) { show("live · update failed (" + e.message + ")", "bad"); })
      .then(function () {
        busy = false;
        if (dirty && !timer) {
          timer = setTimeout(refresh, Math.max(0, 1000 - (Date.now() - last)));
        }
      });
  }

  var es = new EventSource("/events" + (run ? "?run=" + encodeURIComponent(run) : ""));
  es.addEventListener("change", refresh);
  es.onopen = function () { show("live", "ok"); };
  es.onerror = function () { show("live · reconnecting", "bad"); };
})();
