/* jobledger report: state filter, search, sorting, DAG/timeline -> table links. No network. */
(function () {
  "use strict";
  var table = document.getElementById("jobs-table");
  if (!table) { return; }
  if (table.classList.contains("paged")) { paged(table); return; }
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

  /* Many jobs: rows are data (#jobs-data), drawn a page at a time. */
  function paged(table) {
    var F = { ident: 0, name: 1, workflow: 2, state: 3, label: 4, exit: 5, attempts: 6, elapsed: 7,
      runtime: 8, host: 9, sched: 10, started: 11, clock: 12, details: 13, key: 14 };
    var data = rowsOf(JSON.parse(document.getElementById("jobs-data").textContent));
    var body = table.tBodies[0];
    var size = parseInt(table.getAttribute("data-page-rows"), 10) || 100;
    var several = table.getAttribute("data-several") === "1";
    var palette = JSON.parse(table.getAttribute("data-colours") || "{}");
    var chips = Array.prototype.slice.call(document.querySelectorAll(".chip[data-filter]"));
    var search = document.getElementById("job-search");
    var info = document.getElementById("page-info");
    var active = null, page = 0, shown = data;
    var keys = several
      ? [F.name, F.workflow, F.state, F.exit, F.attempts, F.elapsed, F.host, F.sched, F.started, F.details]
      : [F.name, F.state, F.exit, F.attempts, F.elapsed, F.host, F.sched, F.started, F.details];

    /* The data travels as columns (see view/report/paged.py): rows again, in FIELDS order. */
    function rowsOf(blob) {
      var names = ["ident", "name", "workflow", "state", "label", "exit", "attempts", "elapsed",
        "runtime", "host", "scheduler_id", "started", "clock", "details", "key"];
      var n = blob.n, rows = new Array(n), r, f;
      for (r = 0; r < n; r += 1) { rows[r] = new Array(names.length); }
      var order = names.map(function (name, i) { return [name, i]; }).sort(function (a, b) {
        return (blob.c[a[0]].like ? 1 : 0) - (blob.c[b[0]].like ? 1 : 0);  /* "like" ones last */
      });
      order.forEach(function (item) {
        var column = blob.c[item[0]], i = item[1];
        if (column.list) {
          for (r = 0; r < n; r += 1) { rows[r][i] = column.list[r]; }
        } else if (column.codes) {
          for (r = 0; r < n; r += 1) { rows[r][i] = column.values[column.codes[r]]; }
        } else if (column.chars !== undefined) {
          var value = {};  /* character code -> value (CHARS: "#" .. "~" without "\\") */
          column.values.forEach(function (v, k) { value[35 + k + (35 + k >= 92 ? 1 : 0)] = v; });
          for (r = 0; r < n; r += 1) { rows[r][i] = value[column.chars.charCodeAt(r)]; }
        } else {
          f = column.like ? names.indexOf(column.like) : -1;
          for (r = 0; r < n; r += 1) { rows[r][i] = f >= 0 ? rows[r][f] : ""; }
          Object.keys(column.at).forEach(function (at) { rows[+at][i] = column.at[at]; });
        }
      });
      return rows;
    }
    function esc(text) {
      return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
        .replace(/"/g, "&quot;");
    }
    function draw() {
      var pages = Math.max(1, Math.ceil(shown.length / size));
      page = Math.min(Math.max(page, 0), pages - 1);
      var html = [];
      shown.slice(page * size, (page + 1) * size).forEach(function (r) {
        var cells = ["<td>" + esc(r[F.name]) + "</td>"];
        if (several) { cells.push("<td>" + esc(r[F.workflow]) + "</td>"); }
        var c = palette[r[F.state]] || ["#eceff1", "#90a4ae"];
        cells.push('<td><span class="state" style="background:' + c[0] + ";border-color:" + c[1] + ";color:" +
          (r[F.state] === "lost" ? "#ffffff" : "#263238") + '">' + esc(r[F.label]) + "</span></td>",
          '<td class="num">' + esc(r[F.exit]) + "</td>",
          '<td class="num">' + (r[F.attempts] || "") + "</td>",
          '<td class="num">' + esc(r[F.runtime]) + "</td>",
          "<td>" + esc(r[F.host]) + "</td>",
          '<td class="mono">' + esc(r[F.sched]) + "</td>",
          "<td>" + esc(r[F.clock]) + "</td>",
          "<td>" + r[F.details] + "</td>");  /* details: HTML escaped when the report was written */
        html.push('<tr class="job" data-name="' + esc(r[F.ident]) + '" data-state="' + esc(r[F.state]) +
          '" data-key="' + esc(r[F.key]) + '">' + cells.join("") + "</tr>");
      });
      body.innerHTML = html.join("");
      info.textContent = "page " + (page + 1) + " of " + pages + " · " + shown.length + " of " +
        data.length + " jobs";
    }
    function apply() {
      var text = search ? search.value.trim().toLowerCase() : "";
      shown = data.filter(function (r) {
        return (!active || r[F.state] === active) && (!text || r[F.ident].toLowerCase().indexOf(text) >= 0);
      });
      page = 0;
      draw();
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
    document.getElementById("page-prev").addEventListener("click", function () { page -= 1; draw(); });
    document.getElementById("page-next").addEventListener("click", function () { page += 1; draw(); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-name].node, .timeline .attempt"), function (el) {
      el.addEventListener("click", function () {
        var name = el.getAttribute("data-name");
        if (search) { search.value = name; }
        apply();
      });
    });
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    headers.forEach(function (th, column) {
      th.addEventListener("click", function () {
        var ascending = !th.classList.contains("sorted-asc");
        headers.forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(ascending ? "sorted-asc" : "sorted-desc");
        var k = keys[column];
        shown = shown.slice().sort(function (a, b) {
          var x = a[k], y = b[k];
          var cmp = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
          return ascending ? cmp : -cmp;
        });
        draw();
      });
    });
    draw();
  }
}());
