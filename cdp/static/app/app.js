// Omnitrail report pages: draw the Plotly charts and make tables sortable by keyboard or mouse.
(function () {
  "use strict";

  // Below this width (a phone) category labels are angled and the text smaller, so a
  // channel name reads whole ("In-store", not "In-st"); axes always grow their margins
  // to fit their labels (automargin) instead of cutting them.
  var NARROW = 600;

  function eachAxis(layout, callback) {
    Object.keys(layout).forEach(function (key) {
      if (/^[xy]axis\d*$/.test(key)) callback(key, layout[key]);
    });
  }

  function screenLayout(el, figure) {
    var layout = Object.assign({ margin: { t: 30, r: 10, b: 40, l: 50 }, autosize: true }, figure.layout || {});
    if (!layout.xaxis) layout.xaxis = {};
    if (!layout.yaxis) layout.yaxis = {};
    var narrow = el.clientWidth < NARROW;
    eachAxis(layout, function (key, axis) {
      axis.automargin = true;
      if (narrow && key.charAt(0) === "x" && axis.tickangle === undefined) axis.tickangle = -45;
    });
    if (narrow) {
      layout.font = Object.assign({ size: 11 }, layout.font || {});
      layout.margin = Object.assign({}, layout.margin, { l: 10, r: 10 });
      if (layout.legend) layout.legend = Object.assign({}, layout.legend, { font: { size: 10 } });
    }
    return layout;
  }

  function drawCharts() {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.empty) return; // the page says "no data for this range" instead
      var data = document.getElementById("chart-data-" + el.dataset.chart);
      if (!data || !window.Plotly) return;
      var figure = JSON.parse(data.textContent);
      window.Plotly.newPlot(el, figure.data || [], screenLayout(el, figure), { responsive: true, displaylogo: false });
      el.dataset.drawn = "1";
    });
  }

  function cellValue(row, index, numeric) {
    var cell = row.children[index];
    var text = cell ? cell.textContent.trim() : "";
    if (!numeric) return text.toLowerCase();
    if (cell && cell.dataset.sort !== undefined) text = cell.dataset.sort; // the raw number
    var number = parseFloat(text.replace(/[^0-9.eE+-]/g, ""));
    return isNaN(number) ? -Infinity : number;
  }

  function makeSortable(table) {
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (th, index) {
      var button = th.querySelector("button.sort");
      if (!button) return;
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = button.dataset.numeric === "1";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
          return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    document.querySelectorAll("table.data").forEach(makeSortable);
  });
})();
