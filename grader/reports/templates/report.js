// Click any column header of the grid to sort by it (again to reverse). Sort keys come
// from each cell's data-v (numbers) or its text; ties keep id order. The TODO chart can
// be ordered hardest first, and "failures only" is remembered. Marks <body
// data-ready="1"> once wired, so a headless browser test can tell the script ran.
(function () {
  "use strict";
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function key(cell, numeric) {
    var v = cell.getAttribute("data-v");
    if (v === null) { v = cell.textContent.trim(); }
    return numeric ? parseFloat(v) || 0 : v;
  }

  function sortBy(table, th) {
    var col = Number(th.getAttribute("data-col"));
    var numeric = th.getAttribute("data-type") === "num";
    var now = th.getAttribute("aria-sort");
    var dir = now === "ascending" ? "descending" : now === "descending" ? "ascending"
      : (th.getAttribute("data-first") || "ascending");
    var sign = dir === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col], numeric), y = key(b.cells[col], numeric);
      var c = numeric ? x - y : collator.compare(x, y);
      return c * sign || collator.compare(a.getAttribute("data-id"), b.getAttribute("data-id"));
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) { fragment.appendChild(row); });
    body.appendChild(fragment);
    table.querySelectorAll("th[aria-sort]").forEach(function (other) {
      other.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", dir);
  }

  // The pass-rate chart's rows (SVG <g> translated by y) and the table under it, in
  // TODO order or by pass rate ascending (ties in TODO order): "hardest first".
  function orderTodos(order) {
    var chart = document.getElementById("rates-chart");
    var table = document.getElementById("rates-table");
    function ranked(items) {
      return items.slice().sort(function (a, b) {
        var ia = Number(a.getAttribute("data-index")), ib = Number(b.getAttribute("data-index"));
        if (order === "hardest") {
          var c = parseFloat(a.getAttribute("data-rate")) - parseFloat(b.getAttribute("data-rate"));
          if (c) { return c; }
        }
        return ia - ib;
      });
    }
    if (chart) {
      var height = Number(chart.getAttribute("data-row-height"));
      var lines = ranked(Array.prototype.slice.call(chart.querySelectorAll("g.rate-line")));
      lines.forEach(function (g, position) {
        g.setAttribute("transform", "translate(0 " + position * height + ")");
        g.parentNode.appendChild(g);  // DOM order follows, for screen readers and tests
      });
    }
    if (table) {
      var body = table.tBodies[0];
      ranked(Array.prototype.slice.call(body.rows)).forEach(function (row) { body.appendChild(row); });
    }
    document.querySelectorAll("#rates-order button").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-order") === order));
    });
  }

  // "Failures only" is a checkbox CSS acts on (:has); the script remembers it across
  // reloads and says how many students are shown.
  var STORE_KEY = "mlflow-kata-report-failures-only";

  function remember(value) {
    try { window.localStorage.setItem(STORE_KEY, value ? "1" : "0"); } catch (e) { /* file:// may refuse */ }
  }

  function recalled() {
    try { return window.localStorage.getItem(STORE_KEY) === "1"; } catch (e) { return false; }
  }

  function showCount(box) {
    var out = document.getElementById("shown-count");
    var rows = document.querySelectorAll("#grid tbody tr");
    if (!out) { return; }
    var hidden = box.checked ? document.querySelectorAll("#grid tbody tr.complete").length : 0;
    out.textContent = box.checked ? "showing " + (rows.length - hidden) + " of " + rows.length : "";
  }

  function init() {
    var table = document.getElementById("grid");
    if (table) {
      table.querySelectorAll("thead th[data-col]").forEach(function (th) {
        var button = th.querySelector("button");
        button.addEventListener("click", function () { sortBy(table, th); });
      });
    }
    var control = document.getElementById("rates-order");
    if (control) {
      control.querySelectorAll("button").forEach(function (button) {
        button.addEventListener("click", function () { orderTodos(button.getAttribute("data-order")); });
      });
      control.hidden = false;
    }
    var box = document.getElementById("failures-only");
    if (box) {
      if (recalled()) { box.checked = true; }
      box.addEventListener("change", function () { remember(box.checked); showCount(box); });
      showCount(box);
    }
    document.body.setAttribute("data-ready", "1");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
