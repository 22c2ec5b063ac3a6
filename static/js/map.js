/* The incident map: points from the page's JSON (json_script), drawn with the vendored Leaflet.
   Points are vector circles, so they and their popups work when tiles cannot load; without
   JavaScript the table below the map lists the same incidents. Text goes in with textContent only. */
(function () {
  "use strict";

  function readJSON(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function line(parent, tag, text, className) {
    var element = document.createElement(tag);
    element.textContent = text;
    if (className) { element.className = className; }
    parent.appendChild(element);
    return element;
  }

  function popup(point) {
    var box = document.createElement("div");
    var title = document.createElement("a");
    title.href = point.url;
    title.textContent = point.ref + ": " + point.title;
    line(box, "strong", "").appendChild(title);
    line(box, "div", point.date + (point.date_precision === "approximate" ? " (approximate)" : ""));
    line(box, "div", point.place + " — location precision: " + point.geo_precision);
    if (point.killed) { line(box, "div", "Civilians killed: " + point.killed); }
    return box;
  }

  function draw() {
    var container = document.getElementById("incident-map");
    var config = readJSON("map-config");
    var points = readJSON("map-points") || [];
    if (!container || !config || typeof L === "undefined") { return; }
    container.classList.add("is-active");
    var map = L.map(container, { scrollWheelZoom: false });
    L.tileLayer(config.tiles, {
      maxZoom: 18,
      attribution: config.attribution,
      // The site sends no Referer across origins; tile servers such as OpenStreetMap's ask for one.
      referrerPolicy: "strict-origin-when-cross-origin"
    }).addTo(map);
    var bounds = [];
    points.forEach(function (point) {
      var exact = point.geo_precision === "exact" || point.geo_precision === "town";
      L.circleMarker([point.lat, point.lng], {
        radius: exact ? 7 : 11,
        weight: 2,
        color: "#1d3557",
        fillColor: exact ? "#e63946" : "#f4a261",
        fillOpacity: 0.75,
        dashArray: exact ? null : "4 3"
      }).bindPopup(popup(point)).addTo(map);
      bounds.push([point.lat, point.lng]);
    });
    if (bounds.length) {
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: 12 });
    } else {
      map.setView([20, 0], 2);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
}());
