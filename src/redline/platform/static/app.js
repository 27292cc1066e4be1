// Redline's own JavaScript: no framework, no external assets, never innerHTML with data.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // As the server's usertext filter: isolated (<bdi>), direction controls made visible.
  var BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  function userText(value) {
    var bdi = document.createElement("bdi");
    bdi.textContent = value.replace(BIDI, function (c) {
      return "[U+" + ("000" + c.charCodeAt(0).toString(16).toUpperCase()).slice(-4) + "]";
    });
    return bdi;
  }

  // Forms are sent once: a double click does not submit twice (the server also
  // deduplicates). While one is on its way, what would lose or race it is disabled (the
  // page's other action forms, "Finish this attempt"); the rest (signing out) is not.
  // Slow forms show their waiting message, with the model's progress when it reports it.
  var STAGES = {
    queued: function () { return "Waiting for the model (other people's turns are being written)\u2026"; },
    writing: function (p) {
      return "Writing replies\u2026 " + p.done + " of " + p.total;
    },
    choosing: function (p) {
      return "Choosing the 2 least harmful of " + p.total + " replies\u2026";
    }
  };

  function busy() {
    document.querySelectorAll("form.js-once button, form.js-wait button").forEach(function (b) {
      b.disabled = true;
    });
    document.querySelectorAll("a[data-busy-disable]").forEach(function (a) {
      a.setAttribute("aria-disabled", "true");
      a.setAttribute("tabindex", "-1");
      a.classList.add("disabled");
      a.addEventListener("click", function (e) { e.preventDefault(); });
    });
  }

  function pollProgress(form, waiting) {
    var url = form.dataset.progress;
    if (!url || !waiting) { return; }
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          var say = p && STAGES[p.stage];
          if (say) { waiting.textContent = say(p); }
        })
        .catch(function () {});
    };
    setInterval(poll, 1000);
    setTimeout(poll, 300);
  }

  document.querySelectorAll("form.js-once, form.js-wait").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      busy();
      var waiting = form.querySelector(".waiting");
      if (waiting) { waiting.hidden = false; }
      pollProgress(form, waiting);
    });
  });

  // Ctrl/Cmd+Enter sends the message.
  var text = document.getElementById("text");
  if (text) {
    text.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { text.form.requestSubmit(); }
    });
  }

  // Active time: while the chat page is open and visible, tell the server once a minute.
  var chat = document.querySelector("[data-heartbeat]");
  if (chat) {
    setInterval(function () {
      if (document.visibilityState !== "visible") { return; }
      fetch(chat.dataset.heartbeat, {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf }
      }).catch(function () {});
    }, 60000);
  }

  // Live dashboard: poll the JSON endpoint and refresh numbers and tables as text.
  var live = document.querySelector("[data-live-url]");
  if (live) {
    var refresh = function () {
      fetch(live.dataset.liveUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          Object.keys(data.totals).forEach(function (k) {
            var el = live.querySelector('[data-total="' + k + '"]');
            if (el) { el.textContent = String(data.totals[k]); }
          });
          var top = 1;
          Object.keys(data.histogram).forEach(function (k) { top = Math.max(top, data.histogram[k]); });
          Object.keys(data.histogram).forEach(function (k) {
            var bar = live.querySelector('[data-hist="' + k + '"]');
            var count = live.querySelector('[data-hist-count="' + k + '"]');
            if (bar) { bar.max = top; bar.value = data.histogram[k]; }
            if (count) { count.textContent = String(data.histogram[k]); }
          });
          live.querySelectorAll("table[data-live]").forEach(function (table) {
            var rows = data[table.dataset.live] || [];
            var cols = table.dataset.cols.split(",");
            var link = (table.dataset.link || "").split(":");
            var body = document.createElement("tbody");
            rows.forEach(function (row) {
              var tr = document.createElement("tr");
              cols.forEach(function (col, i) {
                var td = document.createElement("td");
                var value = row[col] === null || row[col] === undefined ? "" : String(row[col]);
                if (i === 0 && link.length === 2) {
                  var a = document.createElement("a");
                  a.href = link[1] + encodeURIComponent(String(row[link[0]]));
                  a.appendChild(userText(value));
                  td.appendChild(a);
                } else {
                  td.appendChild(userText(value));
                }
                tr.appendChild(td);
              });
              body.appendChild(tr);
            });
            table.replaceChild(body, table.tBodies[0]);
          });
        })
        .catch(function () {});
    };
    setInterval(refresh, 5000);
  }
})();
