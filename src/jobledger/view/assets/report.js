/* jobledger report: state filter, search, sorting, DAG/timeline -> table links. No network. */
(function () {
  "use strict";
  var table = document.getElementById("jobs-table");
  if (!table) { return; }
  var body = table.tBodies[0];
  var chips = Array.prototype.slice.call(document.querySelectorAll(".chip[data-filter]"));
  var search = document.getElementById("job-search");
  var active = null;

  function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr.job")); }

  function apply() {
    var text = search ? search.value.trim().toLowerCase() : "";
    rows().forEach(function (row) {
      var okState = !active || row.getAttribute("data-state") === active;
      var okText = !text || (row.getAttribute("data-name") || "").toLowerCase().indexOf(text) >= 0;
      row.classList.toggle("hidden", !(okState && okText));
    });
    var lanes = document.querySelectorAll(".timeline .lane");
    Array.prototype.forEach.call(lanes, function (lane) {
      var okState = !active || lane.getAttribute("data-state") === active;
      var okText = !text || (lane.getAttribute("data-name") || "").toLowerCase().indexOf(text) >= 0;
      lane.setAttribute("opacity", okState && okText ? "1" : "0.15");
    });
  }

  chips.forEach(function (chip) {
    chip.addEventListener("click", function () {
      var value = chip.getAttribute("data-filter");
      active = active === value ? null : value;
      chips.forEach(function (c) { c.classList.toggle("active", c.getAttribute("data-filter") === active); });
      apply();
    });
  });
  if (search) { search.addEventListener("input", apply); }

  function show(name) {
    var row = rows().filter(function (r) { return r.getAttribute("data-name") === name; })[0];
    if (!row) { return; }
    row.classList.remove("hidden");
    row.scrollIntoView({ block: "center" });
    row.classList.add("flash");
    window.setTimeout(function () { row.classList.remove("flash"); }, 1200);
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-name].node, .timeline .attempt"), function (el) {
    el.addEventListener("click", function () { show(el.getAttribute("data-name")); });
  });

  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  headers.forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = !th.classList.contains("sorted-asc");
      headers.forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(ascending ? "sorted-asc" : "sorted-desc");
      var sorted = rows().sort(function (a, b) {
        var x = a.cells[column].getAttribute("data-sort") || a.cells[column].textContent;
        var y = b.cells[column].getAttribute("data-sort") || b.cells[column].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return ascending ? cmp : -cmp;
      });
      sorted.forEach(function (row) { body.appendChild(row); });
    });
  });
}());
