// Click any column header of the grid to sort by it (again to reverse). Sort keys come
// from each cell's data-v (numbers) or its text; ties keep id order. Marks <body
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

  function init() {
    var table = document.getElementById("grid");
    if (table) {
      table.querySelectorAll("thead th[data-col]").forEach(function (th) {
        var button = th.querySelector("button");
        button.addEventListener("click", function () { sortBy(table, th); });
      });
    }
    document.body.setAttribute("data-ready", "1");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
