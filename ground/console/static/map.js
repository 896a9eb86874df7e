/* The damage map, shared by the console's map page and the self-contained report.html.
   Leaflet on a plain background: no tile server unless a basemap URL is given, so it works offline. */
(function (global) {
  "use strict";
  var COLOURS = {"no-damage": "#2e7d32", "minor-damage": "#f9a825", "major-damage": "#ef6c00",
                 "destroyed": "#b71c1c"};

  function esc(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function utc(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+\+00:00$/, " UTC") : "–"; }

  function row(name, value) { return "<tr><th>" + esc(name) + "</th><td>" + esc(value) + "</td></tr>"; }

  function buildingPopup(p) {
    return "<table class='popup'>" + row("grade", p["class"]) + row("confidence", p.confidence + " %") +
      row("area", p.area_m2 + " m²") + row("scene", p.scene) + row("satellite", p.satellite) +
      row("acquired", utc(p.acquired)) + row("received", utc(p.received)) + "</table>";
  }

  function scenePopup(s) {
    var counts = Object.keys(s.n).map(function (k) { return k + " " + s.n[k]; }).join(", ");
    var flag = s.ood === true ? "<p class='ood'>flagged out of distribution</p>" : "";
    return flag + "<table class='popup'>" + row("scene", s.scene) + row("satellite", s.satellite) +
      row("model", s.model + " " + s.prec) + row("buildings", counts) + row("acquired", utc(s.acquired)) +
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
      var b = s.bbox, flagged = s.ood === true;
      L.rectangle([[b[1], b[0]], [b[3], b[2]]], {
        className: "scene" + (flagged ? " ood" : ""), color: flagged ? "#6a1b9a" : "#37474f",
        weight: flagged ? 3 : 1, dashArray: flagged ? "6 4" : null, fillOpacity: 0.04
      }).bindPopup(scenePopup(s)).addTo(self.scenes);
      self.sceneCount += 1;
      if (flagged) { self.flagged += 1; }
    });
    buildings.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates;
      L.circleMarker([c[1], c[0]], {
        className: "building cls-" + p.cls, radius: 4, weight: 1, color: "#212121",
        fillColor: COLOURS[p["class"]] || "#000", fillOpacity: 0.9
      }).bindPopup(buildingPopup(p)).addTo(self.buildings);
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
      (this.flagged ? "<div class='ood'>" + this.flagged + " scene(s) flagged out of distribution</div>" : "");
  };

  global.SatMap = SatMap;
  global.satEsc = esc;
})(window);
