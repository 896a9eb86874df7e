/* The console's two pages: the live map and the operations view, fed by server-sent events. */
(function (global) {
  "use strict";

  function esc(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function time(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+\+00:00$/, "") : "–"; }

  function getJson(url) {
    return fetch(url).then(function (r) { return r.json(); });
  }

  /* One live stream; on a break it reconnects from where it was (never re-sending what the page has). */
  function stream(url, handlers) {
    var source = null, status = document.getElementById("status");
    function connect() {
      source = new EventSource(url());
      source.onopen = function () { status.textContent = "live"; };
      Object.keys(handlers).forEach(function (name) {
        source.addEventListener(name, function (e) { handlers[name](JSON.parse(e.data)); });
      });
      source.onerror = function () {
        status.textContent = "connection lost: retrying";
        source.close();
        setTimeout(connect, 2000);
      };
    }
    connect();
  }

  function clock(live) {
    var status = document.getElementById("status");
    if (!live) { status.textContent = "live · the station's clock has not started"; return; }
    var win = live.window ? "window " + live.window.id + " open until " + time(live.window.end_utc)
                          : "no window open";
    status.textContent = "live · sim " + time(live.sim_utc) + " · " + win;
  }

  function mapPage(element) {
    var after = 0;
    getJson("/api/info").then(function (info) {
      var map = new global.SatMap(element, {basemapUrl: info.basemap_url});
      stream(function () { return "/api/events?after=" + after; }, {
        ops: function (ops) { clock(ops.live); },
        map: function (fresh) { map.add(fresh.scenes, fresh.buildings); after = fresh.after; }
      });
    });
  }

  function rows(id, html) { document.querySelector("#" + id + " tbody").innerHTML = html.join(""); }

  function drawOperations(ops) {
    var live = ops.live;
    clock(live);
    var contact = document.getElementById("contact");
    if (!live) {
      contact.textContent = "the station's clock has not started";
    } else if (live.window) {
      contact.innerHTML = "<b id='window-state' data-win='" + live.window.id + "'>window " + live.window.id +
        " open</b>: AOS " + esc(time(live.window.start_utc)) + ", LOS " + esc(time(live.window.end_utc));
    } else {
      var next = live.next_window;
      contact.innerHTML = "<b id='window-state' data-win=''>no window open</b>" +
        (next ? ": next AOS " + esc(time(next.start_utc)) + " (window " + next.id + "), LOS " +
                esc(time(next.end_utc)) : ": no window ahead");
    }
    rows("satellites", (live ? live.satellites : []).map(function (s) {
      var c = s.contact;
      return "<tr data-sat='" + esc(s.id) + "'><td>" + esc(s.id) + "</td><td class='" +
        (s.connected ? "yes'>yes" : "no'>no") + "</td><td>" + esc(s.model) + "</td><td class='prec'>" +
        esc(s.prec) + "</td><td>" + esc(s.spooled) + "</td><td>" + esc(time(s.last_hello_utc)) + "</td><td>" +
        (c ? c.credit : "–") + "</td><td>" + (c ? c.used : "–") + "</td><td>" + (c ? c.frames : "–") + "</td></tr>";
    }));
    rows("commands", ops.commands.slice().reverse().map(function (c) {
      var answers = c.results.map(function (r) {
        var state = r.ok === null ? "sent " + r.sent + "×, no answer yet" : (r.ok ? "ok" : "failed") + ": " + r.detail;
        return "<span class='" + (r.ok === null ? "muted" : r.ok ? "yes" : "no") + "'>" + esc(r.satellite) + " " +
          esc(state) + "</span>";
      }).join("<br>") || "<span class='muted'>not sent yet</span>";
      return "<tr data-cmd='" + c.id + "'><td>" + c.id + "</td><td>" + esc(c.name + " " + JSON.stringify(c.args)) +
        "</td><td>" + esc(c.target || "all") + "</td><td>" + esc(time(c.queued_wall_utc)) + "</td><td class='answers'>" +
        answers + "</td></tr>";
    }));
    rows("passes", ops.passes.slice().reverse().map(function (p) {
      var lat = p.latency_s ? p.latency_s.p50 + " / " + p.latency_s.max : "–";
      var open = live && live.window && live.window.id === p.win, granted = p.bytes_granted,
          received = p.bytes_received, frames = p.frames;
      if (open) {   // the store has a pass's totals from its LOS on: until then, the contacts' own
        live.satellites.forEach(function (s) {
          if (s.contact && s.contact.win === p.win) {
            granted += s.contact.granted; received += s.contact.used; frames += s.contact.frames;
          }
        });
      }
      return "<tr><td>" + p.win + (open ? " <b>open</b>" : "") + "</td><td>" + esc(time(p.start_utc)) + "</td><td>" +
        (p.duration_s / 60).toFixed(1) + "</td><td>" + granted + "</td><td>" + received + "</td><td>" + frames +
        "</td><td>" + p.summaries + "</td><td>" + lat + "</td></tr>";
    }));
    var counters = Object.keys(ops.counters).map(function (k) { return k + " " + ops.counters[k]; });
    document.getElementById("counters").textContent = ops.error ? ops.error :
      ops.summaries + " summaries stored" + (counters.length ? " · " + counters.join(" · ") : "");
  }

  function commandForm(info) {
    var form = document.getElementById("command-form");
    if (!info.write) { document.getElementById("read-only").hidden = false; return; }
    form.hidden = false;
    var name = document.getElementById("command-name"), values = document.getElementById("command-values");
    var token = document.getElementById("token"), result = document.getElementById("command-result");
    token.value = sessionStorage.getItem("satedge-token") || "";
    name.innerHTML = info.commands.map(function (c) { return "<option>" + esc(c) + "</option>"; }).join("");
    function suggest() {
      var choices = name.value === "set-precision" ? info.precisions : Object.keys(info.classes);
      values.innerHTML = choices.map(function (v) {
        return "<option value='" + esc(v) + "'>" + esc(info.classes[v] || "") + "</option>";
      }).join("");
    }
    name.onchange = suggest;
    suggest();
    form.onsubmit = function (e) {
      e.preventDefault();
      sessionStorage.setItem("satedge-token", token.value);
      result.className = "";
      result.textContent = "queueing…";
      var headers = {"Content-Type": "application/json"};
      if (token.value) { headers.Authorization = "Bearer " + token.value; }
      fetch("/api/commands", {
        method: "POST", headers: headers,
        body: JSON.stringify({command: name.value, value: document.getElementById("command-value").value,
                              satellite: document.getElementById("command-sat").value || null})
      }).then(function (r) {
        return r.json().then(function (body) {
          result.className = r.ok ? "ok" : "error";
          result.textContent = r.ok ? body.message : "refused: " + body.error;
        });
      }).catch(function (err) { result.className = "error"; result.textContent = "refused: " + err; });
    };
  }

  function operationsPage() {
    getJson("/api/info").then(commandForm);
    stream(function () { return "/api/events?map=0"; }, {ops: drawOperations});
  }

  // No inline script (the console's Content-Security-Policy forbids it): the page names itself.
  if (document.body.dataset.page === "map") { mapPage(document.getElementById("map")); }
  if (document.body.dataset.page === "operations") { operationsPage(); }
})(window);
