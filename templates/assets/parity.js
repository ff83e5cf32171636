/* Parity report: draws each page's Plotly figures and sorts tables by a click on their header.
   Written once into the site's assets, or inlined once into a single-file report, where every
   page is a <section> and the URL fragment picks the one shown. */
(function () {
  "use strict";
  var CONFIG = { displaylogo: false, responsive: true };

  function draw(section) {
    if (section.dataset.drawn) { return; }
    section.dataset.drawn = "yes";
    section.querySelectorAll("script.figures").forEach(function (script) {
      var figures = JSON.parse(script.textContent);
      Object.keys(figures).forEach(function (id) {
        var target = document.getElementById(id);
        if (target) { Plotly.newPlot(target, figures[id].data, figures[id].layout, CONFIG); }
      });
    });
  }

  function show() {
    var sections = Array.prototype.slice.call(document.querySelectorAll("section.page"));
    if (sections.length === 1) { draw(sections[0]); return; }
    var wanted = location.hash ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
    var current = (wanted && wanted.closest("section.page")) || sections[0];
    sections.forEach(function (section) { section.hidden = section !== current; });
    draw(current);
    if (!wanted || wanted === current) { window.scrollTo(0, 0); }
  }

  function sortKey(cell) {
    var raw = cell ? (cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim()) : "";
    return raw !== "" && isFinite(raw) ? Number(raw) : raw.toLowerCase();
  }

  function compare(a, b) {
    if (typeof a !== typeof b) { return typeof a === "number" ? -1 : 1; }  // numbers before blanks and text
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function sortBy(header) {
    var table = header.closest("table"), body = table.tBodies[0];
    var column = Array.prototype.indexOf.call(header.parentNode.children, header);
    var direction = header.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    table.querySelectorAll("thead th").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) { return compare(sortKey(a.cells[column]), sortKey(b.cells[column])) * direction; });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  document.addEventListener("click", function (event) {
    var header = event.target.closest("table.sortable thead th");
    if (header) { sortBy(header); }
  });
  window.addEventListener("hashchange", show);
  show();
})();
