/* Progressive enhancement: a "Show the map" button that loads Leaflet (served from
   static/vendor/) only when asked, then plots the points given in data-map-points.
   The list on the page already says everything; the map is optional. */
(function () {
  "use strict";
  var boxes = document.querySelectorAll("[data-map-points]");
  if (!boxes.length) { return; }

  function load(base, done) {
    if (window.L) { done(); return; }
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = base + "leaflet.css";
    document.head.appendChild(css);
    var script = document.createElement("script");
    script.src = base + "leaflet.js";
    script.onload = function () { done(); };  // not `done` itself: it would get the load event as an error
    script.onerror = function () { done(new Error("leaflet")); };
    document.head.appendChild(script);
  }

  function draw(box) {
    var points = JSON.parse(box.getAttribute("data-map-points") || "[]");
    var el = box.querySelector(".map");
    el.hidden = false;
    var map = window.L.map(el, { scrollWheelZoom: false });
    window.L.tileLayer(box.getAttribute("data-tiles"), {
      maxZoom: 19, attribution: box.getAttribute("data-attribution")
    }).addTo(map);
    var bounds = [];
    points.forEach(function (p) {
      var marker = window.L.marker([p.lat, p.lon]).addTo(map);
      var link = document.createElement("a");
      link.href = p.url;
      link.textContent = p.name;
      marker.bindPopup(link);
      bounds.push([p.lat, p.lon]);
    });
    if (bounds.length === 1) { map.setView(bounds[0], 15); } else { map.fitBounds(bounds, { padding: [20, 20] }); }
  }

  Array.prototype.forEach.call(boxes, function (box) {
    var button = box.querySelector("button[data-map-show]");
    if (!button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      load(box.getAttribute("data-leaflet"), function (error) {
        if (error) { button.disabled = false; return; }
        button.hidden = true;
        draw(box);
      });
    });
  });
})();
