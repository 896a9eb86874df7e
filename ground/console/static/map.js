/* The damage map, shared by the console's map page and the self-contained report.html.
   Leaflet on a plain background: no tile server unless a basemap URL is given, so it works offline. */
(function (global) {
  "use strict";
  var COLOURS = {"no-damage": "#2e7d32", "minor-damage": "#f9a825", "major-damage": "#ef6c00",
                 "destroyed": "#b71c1c"};
  // A building's grading basis (satedge/vocabulary.py): "post-only" where the pre-event reference had no view.
  var POST_ONLY = "post-only", POST_ONLY_SAID = "graded post-only (no pre-event view)";

  function esc(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function utc(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+\+00:00$/, " UTC") : "–"; }

  function row(name, value) { return "<tr><th>" + esc(name) + "</th><td>" + esc(value) + "</td></tr>"; }

  function buildingPopup(p) {
    var flag = p.basis === POST_ONLY ? "<p class='post-only'>" + POST_ONLY_SAID + "</p>" : "";
    return flag + "<table class='popup'>" + row("grade", p["class"]) + row("confidence", p.confidence + " %") +
      row("area", p.area_m2 + " m²") + row("basis", p.basis) + row("scene", p.scene) +
      row("pre-event view", p.coverage + " % of the scene") + row("satellite", p.satellite) +
      row("acquired", utc(p.acquired)) + row("received", utc(p.received)) + "</table>";
  }

  function scenePopup(s) {
    var counts = Object.keys(s.n).map(function (k) { return k + " " + s.n[k]; }).join(", ");
    var flag = s.ood === true ? "<p class='ood'>flagged out of distribution</p>" : "";
    return flag + "<table class='popup'>" + row("scene", s.scene) + row("satellite", s.satellite) +
      row("model", s.model + " " + s.prec) + row("buildings", counts) +
      row("pre-event view", s.coverage + " % of the scene") +
      row("graded post-only", s.post_only + " of " + s.listed + " listed") + row("acquired", utc(s.acquired)) +
      row("received", utc(s.received)) + "</table>";
  }

  function SatMap(element, options) {
    options = options || {};
    this.map = L.map(element, {zoomSnap: 0.25, worldCopyJump: true}).setView([20, 0], 2);
    if (options.basemapUrl) {
      L.tileLayer(options.basemapUrl, {maxZoom: 19, attribution: options.basemapAttribution || ""}).addTo(this.map);
    }
    this.scenes = L.featureGroup().addTo(this.map);
    this.buildings = L.featureGroup().addTo(this.map);
    this.count = 0;
    this.sceneCount = 0;
    this.flagged = 0;
    this.uncovered = 0;
    this.postOnly = 0;
    this.byClass = {};
    this.fitted = false;
    var legend = this.legend = L.control({position: "bottomright"});
    legend.onAdd = function () { return L.DomUtil.create("div", "legend"); };
    legend.addTo(this.map);
    this.drawLegend();
  }

  SatMap.prototype.add = function (scenes, buildings) {
    var self = this;
    scenes.forEach(function (s) {
      var b = s.bbox, flagged = s.ood === true, uncovered = s.coverage < 100;
      L.rectangle([[b[1], b[0]], [b[3], b[2]]], {
        className: "scene" + (flagged ? " ood" : "") + (uncovered ? " partial-reference" : ""),
        color: flagged ? "#6a1b9a" : "#37474f",
        weight: flagged ? 3 : 1, dashArray: flagged ? "6 4" : null, fillOpacity: 0.04
      }).bindPopup(scenePopup(s)).addTo(self.scenes);
      self.sceneCount += 1;
      if (flagged) { self.flagged += 1; }
      if (uncovered) { self.uncovered += 1; }
    });
    buildings.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates, colour = COLOURS[p["class"]] || "#000";
      var postOnly = p.basis === POST_ONLY;   // hollow and dashed, in its grade's colour
      L.circleMarker([c[1], c[0]], {
        className: "building cls-" + p.cls + (postOnly ? " post-only" : ""), radius: 4,
        weight: postOnly ? 2 : 1, color: postOnly ? colour : "#212121", dashArray: postOnly ? "3 2" : null,
        fillColor: colour, fillOpacity: postOnly ? 0.1 : 0.9
      }).bindPopup(buildingPopup(p)).addTo(self.buildings);
      if (postOnly) { self.postOnly += 1; }
      self.byClass[p["class"]] = (self.byClass[p["class"]] || 0) + 1;
      self.count += 1;
    });
    if (!this.fitted && this.sceneCount > 0) {
      this.map.fitBounds(this.scenes.getBounds(), {padding: [20, 20]});
      this.fitted = true;
    }
    this.drawLegend();
  };

  SatMap.prototype.drawLegend = function () {
    var self = this, div = this.legend.getContainer();
    var lines = Object.keys(COLOURS).map(function (name) {
      return "<div><span class='swatch' style='background:" + COLOURS[name] + "'></span>" + esc(name) +
        " <b>" + (self.byClass[name] || 0) + "</b></div>";
    });
    div.innerHTML = "<div id='building-count' data-count='" + this.count + "'><b>" + this.count +
      "</b> buildings listed in <b>" + this.sceneCount + "</b> scenes</div>" + lines.join("") +
      (this.postOnly ? "<div class='post-only' id='post-only-count' data-count='" + this.postOnly +
        "'><span class='swatch hollow'></span>" + POST_ONLY_SAID + " <b>" + this.postOnly + "</b></div>" : "") +
      (this.uncovered ? "<div class='partial-reference'>" + this.uncovered +
        " scene(s) with partial or no pre-event reference</div>" : "") +
      (this.flagged ? "<div class='ood'>" + this.flagged + " scene(s) flagged out of distribution</div>" : "");
  };

  global.SatMap = SatMap;
  global.satEsc = esc;
})(window);
