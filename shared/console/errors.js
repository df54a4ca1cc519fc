// Sync errors: BC's "Coupled Data Synchronization Errors" — the last error of each record per mapping; retry one,
// the selected or all (a retry restores skipped records and runs the mapping as a scheduled run would); and the
// conflict view: both sides' values side by side, differing fields marked, and a choice of which side to keep
// (Synchronize Now in that direction).
"use strict";

(function () {
  const { api, h, clear, announce, fail, act, field, table, mappingSelect, time } = window.BCS;

  // -- the conflict view (also used by the Couplings page) ---------------------------------------------------
  function valueNode(value) {
    if (value === null || value === undefined || value === "") return h("span", { class: "hint", text: "(empty)" });
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  async function showCompare(container, mapping, ids, onResolved) {
    const query = ids.bcId ? `bcId=${encodeURIComponent(ids.bcId)}` : `dataverseId=${encodeURIComponent(ids.dataverseId)}`;
    const { data } = await api("GET", `records/${encodeURIComponent(mapping)}/compare?${query}`);
    const differing = data.fields.filter((f) => f.differs).length;
    const rows = data.fields.map((f) => h("tr", { class: f.differs ? "differs" : null, "data-field": f.key },
      h("th", { scope: "row" }, f.bcField || "", h("span", { class: "hint", text: " / " }), f.dataverseField || ""),
      h("td", { class: "bc-value" }, valueNode(f.bc)),
      h("td", { class: "dv-value" }, valueNode(f.dataverse)),
      h("td", { text: f.differs ? "Differs" : "Same" }),
      h("td", { class: "hint", text: window.BCS.direction(f.direction) })));
    const keep = (direction, label, winner) => {
      const button = h("button", { type: "button", text: label });
      button.addEventListener("click", () => act(button, async () => {
        const { data: report } = await api("POST", "synchronize", { body: { mapping: data.mapping, bcId: data.bcId, direction } });
        clear(container).append(h("p", { class: "ok-text", text: `Kept ${winner}: ${report.changes.length} field(s) written (${report.outcome}).` }));
        announce(`Kept ${winner} for ${data.mapping} record ${data.bcId}.`);
        if (onResolved) await onResolved();
      }));
      return button;
    };
    const headingId = window.BCS.uid("compare");
    clear(container).append(h("section", { class: "panel compare", "aria-labelledby": headingId },
      h("h2", { id: headingId, tabindex: "-1", text: `Compare ${data.mapping} record` }),
      h("p", {}, "Business Central ", h("code", { text: data.bcId }), " · Sales ", h("code", { text: data.dataverseId }),
        ` · ${differing} field(s) differ`),
      data.errors.map((e) => h("p", { class: "bad-text", text: `${e.side === "bc" ? "Business Central" : "Sales"} side: ${e.code}: ${e.message}` })),
      table("Values of both sides", ["Field (BC / Sales)", "Business Central", "Sales", "", "Direction"], rows, { class: "compare-table" }),
      h("p", { class: "hint", text: "Keeping one side writes its values over the other side's (Synchronize Now in that direction)." }),
      h("div", { class: "actions" },
        keep("toDataverse", "Keep Business Central", "Business Central's values"),
        keep("fromDataverse", "Keep Sales", "Sales' values"))));
    container.querySelector(`#${headingId}`).focus();
  }

  window.BCS.compare = { show: showCompare };

  // -- the error list ------------------------------------------------------------------------------------------
  function outcomeText(report) {
    const counts = {};
    for (const record of report.records) counts[record.outcome] = (counts[record.outcome] || 0) + 1;
    const summary = Object.entries(counts).map(([outcome, n]) => `${outcome} ${n}`).join(", ") || "nothing to retry";
    return `${report.mapping}: ${summary}.`;
  }

  window.BCS.register({
    id: "errors",
    title: "Sync errors",
    render(main, params) {
      const select = mappingSelect({ all: true, value: params.get("mapping") || "" });
      const listSection = h("section", { class: "panel", "aria-labelledby": "errors-heading" });
      const detail = h("div", { class: "error-detail" });
      let entries = [];

      async function load() {
        const mapping = select.value;
        const { data } = await api("GET", `sync-errors${mapping ? `?mapping=${encodeURIComponent(mapping)}` : ""}`);
        entries = data.value;
        render();
      }

      async function retry(targets, verb = "Retried") {
        const byMapping = {};
        for (const entry of targets) (byMapping[entry.mapping] = byMapping[entry.mapping] || []).push(entry.id);
        const texts = [];
        for (const [mapping, ids] of Object.entries(byMapping)) {
          const { data } = await api("POST", "sync-errors/retry", { body: { mapping, ids } });
          texts.push(outcomeText(data));
        }
        await load();
        announce(texts.length ? `${verb}: ${texts.join(" ")}` : "Nothing to retry.");
      }

      async function retryAll() {
        const mappings = select.value ? [select.value] : [...new Set(entries.map((e) => e.mapping))];
        const texts = [];
        for (const mapping of mappings) {
          const { data } = await api("POST", "sync-errors/retry", { body: { mapping, all: true } });
          texts.push(outcomeText(data));
        }
        await load();
        announce(texts.length ? `Retried all: ${texts.join(" ")}` : "No errors to retry.");
      }

      function selected() {
        return [...listSection.querySelectorAll("input[name=selected]:checked")].map((input) => entries[Number(input.value)]);
      }

      function row(entry, index) {
        const retryOne = h("button", { type: "button", class: "secondary", text: "Retry", "aria-label": `Retry ${entry.id}` });
        retryOne.addEventListener("click", () => act(retryOne, () => retry([entry])));
        const compare = h("button", { type: "button", class: "secondary", text: "Compare", "aria-label": `Compare both sides of ${entry.id}` });
        compare.addEventListener("click", () => act(compare, () => showCompare(detail, entry.mapping,
          entry.side === "bc" ? { bcId: entry.id } : { dataverseId: entry.id }, load)));
        const check = h("input", { type: "checkbox", name: "selected", value: String(index), "aria-label": `Select ${entry.mapping} ${entry.id}` });
        return h("tr", { "data-id": entry.id, "data-code": entry.code, class: entry.skipped ? "skipped" : null },
          h("td", {}, check),
          h("td", { text: entry.mapping }),
          h("td", { text: entry.side === "bc" ? "Business Central" : "Sales" }),
          h("td", {}, h("code", { text: entry.id })),
          h("td", {}, h("strong", { text: entry.code }), h("div", { text: entry.message })),
          h("td", { class: "number", text: String(entry.count) }),
          h("td", { class: "nowrap", text: time(entry.lastSeen) }),
          h("td", { text: entry.skipped ? "skipped" : "" }),
          h("td", {}, h("div", { class: "buttons" }, retryOne, compare)));
      }

      function render() {
        const retrySelected = h("button", { type: "button", class: "secondary", text: "Retry selected" });
        retrySelected.addEventListener("click", () => act(retrySelected, async () => {
          const chosen = selected();
          if (!chosen.length) throw new Error("Select the errors to retry first.");
          await retry(chosen);
        }));
        const all = h("button", { type: "button", class: "secondary", text: "Retry all", disabled: !entries.length });
        all.addEventListener("click", () => act(all, retryAll));
        const skipped = entries.filter((e) => e.skipped);
        const restore = h("button", { type: "button", class: "secondary", text: `Restore skipped (${skipped.length})`, disabled: !skipped.length });
        restore.addEventListener("click", () => act(restore, () => retry(skipped, "Restored and retried")));
        clear(listSection).append(
          h("h2", { id: "errors-heading", text: `${entries.length} record error(s)` }),
          h("div", { class: "actions" }, retrySelected, all, restore),
          entries.length
            ? table("Record errors", ["", "Mapping", "Side", "Record id", "Error", "Count", "Last seen", "Skipped", "Actions"],
              entries.map(row), { hideCaption: true, class: "errors" })
            : h("p", { class: "ok-text", text: "No record errors." }));
      }

      const show = h("button", { type: "submit", text: "Show errors" });
      const form = h("form", { class: "inline", novalidate: true, on: {
        submit: (event) => { event.preventDefault(); act(show, load); },
      } }, field("Mapping", select), show);
      select.addEventListener("change", () => act(show, load));
      main.append(h("section", { class: "panel" }, form,
        h("p", { class: "hint", text: "Retrying restores skipped records and runs the mapping as a scheduled run would; a conflict stays a conflict until you keep one side (Compare)." })),
      listSection, detail);
      select.addEventListener("mappings-loaded", () => act(show, load), { once: true });
    },
  });
})();
