// The index of an episode site: filters, a page of rows at a time, state kept in the URL hash.
"use strict";
const VIEWER = (() => {
  const PAGE = 100;
  let columns = [];
  const rows = [];
  let shown = [];
  let page = 0;

  const text = (value) => (value === null || value === undefined ? "" : String(value));

  function state() {
    const found = new URLSearchParams(location.hash.slice(1));
    return found;
  }

  function save() {
    const params = new URLSearchParams();
    for (const select of document.querySelectorAll("#filters select")) {
      if (select.value) params.set(select.name, select.value);
    }
    if (page) params.set("page", String(page + 1));
    history.replaceState(null, "", "#" + params.toString());
  }

  function buildFilters(saved) {
    const form = document.getElementById("filters");
    columns.forEach((column, i) => {
      if (!column.facet) return;
      const values = [...new Set(rows.map((row) => text(row[i])))].sort((a, b) =>
        a.localeCompare(b, undefined, { numeric: true }));
      const label = document.createElement("label");
      label.textContent = column.label + " ";
      const select = document.createElement("select");
      select.name = column.key;
      select.dataset.index = String(i);
      select.add(new Option("all", ""));
      for (const value of values) select.add(new Option(value || "(none)", value));
      select.value = values.includes(saved.get(column.key)) ? saved.get(column.key) : "";
      select.addEventListener("change", () => { page = 0; apply(); });
      label.appendChild(select);
      form.appendChild(label);
    });
  }

  function apply() {
    const chosen = [...document.querySelectorAll("#filters select")]
      .filter((select) => select.value)
      .map((select) => [Number(select.dataset.index), select.value]);
    shown = rows.filter((row) => chosen.every(([i, value]) => text(row[i]) === value));
    page = Math.min(page, Math.max(0, Math.ceil(shown.length / PAGE) - 1));
    render();
    save();
  }

  function render() {
    const body = document.querySelector("#episodes tbody");
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    const fragment = document.createDocumentFragment();
    const success = columns.findIndex((column) => column.key === "success");
    for (const row of shown.slice(page * PAGE, (page + 1) * PAGE)) {
      const tr = document.createElement("tr");
      if (success >= 0 && row[success] === "no") tr.className = "failed";
      columns.forEach((column, i) => {
        const td = document.createElement("td");
        td.textContent = text(row[i]);
        td.className = column.key;
        tr.appendChild(td);
      });
      const open = document.createElement("td");
      const link = document.createElement("a");
      link.href = row[columns.length];
      link.textContent = "open";
      open.appendChild(link);
      tr.appendChild(open);
      fragment.appendChild(tr);
    }
    body.replaceChildren(fragment);
    document.getElementById("count").textContent =
      `${shown.length} of ${rows.length} episodes`;
    document.getElementById("page").textContent = ` page ${page + 1} of ${pages} `;
    document.getElementById("previous").disabled = page === 0;
    document.getElementById("next").disabled = page >= pages - 1;
  }

  function start() {
    const saved = state();
    const head = document.createElement("tr");
    for (const column of [...columns, { label: "" }]) {
      const th = document.createElement("th");
      th.textContent = column.label;
      head.appendChild(th);
    }
    document.querySelector("#episodes thead").appendChild(head);
    buildFilters(saved);
    page = Math.max(0, Number(saved.get("page") || 1) - 1);
    document.getElementById("previous").addEventListener("click", () => { page -= 1; render(); save(); });
    document.getElementById("next").addEventListener("click", () => { page += 1; render(); save(); });
    apply();
    document.body.dataset.readyMs = String(performance.now()); // since navigation started
    document.body.dataset.ready = "true";
  }

  return { columns: (spec) => { columns = spec; }, add: (chunk) => { rows.push(...chunk); }, start };
})();
