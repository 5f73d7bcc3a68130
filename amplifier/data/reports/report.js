/* amplifier report: filter and sort the tables. Plain script, no dependencies. */
(function () {
  "use strict";

  function filterRows(form) {
    var table = document.getElementById(form.dataset.table);
    var rows = table.tBodies[0].rows;
    var selects = Array.prototype.slice.call(form.querySelectorAll("select"));
    var search = form.querySelector("input[type=search]");
    var query = search ? search.value.trim().toLowerCase() : "";
    var active = selects.filter(function (s) { return s.selectedIndex > 0; });
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var visible = active.every(function (s) { return row.dataset[s.name] === s.value; });
      if (visible && query) {
        visible = row.textContent.toLowerCase().indexOf(query) !== -1;
      }
      row.hidden = !visible;
      if (visible) { shown++; }
    }
    form.querySelector("output").textContent = shown + " dari " + rows.length + " baris";
  }

  function sortKey(cell, numeric) {
    if (!cell) { return numeric ? -Infinity : ""; }
    if (cell.dataset.v !== undefined) { return parseFloat(cell.dataset.v); }
    if (numeric) {
      var n = parseFloat(cell.textContent);
      return isNaN(n) ? -Infinity : n;
    }
    return cell.textContent.toLowerCase();
  }

  function sortBy(th) {
    var table = th.closest("table");
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = !th.classList.contains("text");
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, order) {
      return { row: row, key: sortKey(row.cells[index], numeric), order: order };
    });
    rows.sort(function (a, b) {
      var d = a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
      return (ascending ? d : -d) || a.order - b.order;
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (r) { fragment.appendChild(r.row); });
    body.appendChild(fragment);
    th.parentNode.querySelectorAll("th").forEach(function (other) {
      other.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  document.querySelectorAll("form.filters").forEach(function (form) {
    form.addEventListener("input", function () { filterRows(form); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
  });
  document.querySelectorAll("table.sortable th button").forEach(function (button) {
    button.addEventListener("click", function () { sortBy(button.parentNode); });
  });
})();
