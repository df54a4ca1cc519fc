// Sync errors: BC's "Coupled Data Synchronization Errors" — the last error of each record per mapping, listed a page
// at a time from the server (Next page / Previous page); rows are selected with their checkboxes (the header's selects
// the page) and the actions work on the selection: Retry (a retry restores skipped records and runs the mapping as a
// scheduled run would), and Delete Records, Restore Records and Remove Coupling (error_actions.js); Find for Deleted
// for the chosen mapping (records the couplings whose record is gone in either app: a queued job, whose progress the
// page shows until it ends, then its counts and the list's first page). Also the conflict view: both sides' values
// side by side, differing fields marked, and a choice of which side to keep (Synchronize Now in that direction).
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
  const SIDES = { bc: "Business Central", dv: "Sales" };
  const PAGE_SIZES = ["10", "25", "50", "100"];
  const POLL_MS = 1000; // how often a queued Find for Deleted's job entry is read
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
      const size = h("select", { name: "top" }, PAGE_SIZES.map((n) => h("option", { value: n, text: n })));
      size.value = "50";
      const listSection = h("section", { class: "panel", "aria-labelledby": "errors-heading" });
      const actionOutput = h("div", { class: "delete-records" });
      const findOutput = h("div", { class: "find-deleted" });
      const detail = h("div", { class: "error-detail" });
      let entries = [];
      let tokens = [null]; // tokens[i]: the continuationToken that reads page i (null: the first page)
      let pageIndex = 0;
      let nextToken = null;

      const loads = window.BCS.newest();
      async function load(index = pageIndex) {
        const isNewest = loads();
        const query = new URLSearchParams({ top: size.value });
        if (select.value) query.set("mapping", select.value);
        if (tokens[index]) query.set("continuationToken", tokens[index]);
        const { data } = await api("GET", `sync-errors?${query.toString()}`);
        if (!isNewest()) return undefined; // a newer load (another page size or mapping) answers instead
        if (!data.value.length && index > 0) return load(index - 1); // the page emptied (retried, deleted): step back
        pageIndex = index;
        entries = data.value;
        nextToken = data.continuationToken;
        tokens = tokens.slice(0, index + 1);
        render();
        return undefined;
      }

      function firstPage() {
        tokens = [null];
        return load(0);
      }

      async function retry(targets, verb = "Retried") {
        const texts = [];
        for (const [mapping, ids] of Object.entries(window.BCS.errorActions.byMapping(targets))) {
          const { data } = await api("POST", "sync-errors/retry", { body: { mapping, ids } });
          texts.push(outcomeText(data));
        }
        await load();
        announce(texts.length ? `${verb}: ${texts.join(" ")}` : "Nothing to retry.");
      }

      // "All mappings": every mapping with at least one error, not only those on the page shown (one row read each).
      async function mappingsWithErrors() {
        const names = (await window.BCS.mappings()).map((m) => m.name);
        const found = await Promise.all(names.map(async (name) => {
          const { data } = await api("GET", `sync-errors?mapping=${encodeURIComponent(name)}&top=1`);
          return data.value.length ? name : null;
        }));
        return found.filter(Boolean);
      }

      async function retryAll() {
        const mappings = select.value ? [select.value] : await mappingsWithErrors();
        const texts = [];
        for (const mapping of mappings) {
          const { data } = await api("POST", "sync-errors/retry", { body: { mapping, all: true } });
          texts.push(outcomeText(data));
        }
        await firstPage();
        announce(texts.length ? `Retried all: ${texts.join(" ")}` : "No errors to retry.");
      }

      // Find for Deleted is a queued job (it lists every id of both apps: minutes for a large mapping): queue it, show
      // its job entry about once a second until it ends (and no longer once the page changes), then the counts.
      let findTimer = 0;
      let stopped = false;

      function showFindJob(job) {
        const done = job.status === "finished" || job.status === "failed";
        const counters = job.counters || {};
        clear(findOutput).append(h("section", { class: "panel find-job", "aria-labelledby": "find-job-heading" },
          h("h3", { id: "find-job-heading", text: `Find for Deleted ${job.mapping}: ${job.status}` }),
          h("p", { class: "progress" }, done ? null : h("progress", { "aria-label": "Finding deleted records" }),
            h("span", { class: "find-counts", text: `${counters.unchanged || 0} coupling(s) compared, ${counters.deleted || 0} with a record deleted, ${counters.failed || 0} newly listed` })),
          job.message ? h("p", { class: "hint", text: job.message }) : null,
          h("p", { class: "hint" }, "Job ", h("code", { text: job.jobId }))));
        return done;
      }

      async function pollFind(jobId, mapping) {
        if (stopped) return;
        try {
          const { data } = await api("GET", `jobs/${encodeURIComponent(jobId)}?mapping=${encodeURIComponent(mapping)}`);
          if (stopped) return;
          if (showFindJob(data)) {
            if (data.status === "finished") {
              await firstPage();
              announce(`Find for Deleted: ${data.message}`);
            } else {
              fail(new Error(`Find for Deleted failed: ${data.message}`));
            }
            return;
          }
        } catch (error) {
          if (stopped) return;
          fail(error);
        }
        findTimer = window.setTimeout(() => pollFind(jobId, mapping), POLL_MS);
      }

      async function findDeleted() {
        const mapping = select.value;
        if (!mapping) throw new Error("Choose a mapping first: Find for Deleted works on one mapping.");
        window.clearTimeout(findTimer);
        const { data } = await api("POST", "sync-errors/find-deleted", { body: { mapping } });
        showFindJob({ ...data, counters: {}, message: "" });
        announce(`Finding the deleted records of ${mapping} in the background (job ${data.jobId}).`);
        pollFind(data.jobId, data.mapping);
      }

      const actions = window.BCS.errorActions.create({ output: actionOutput, list: listSection, reload: () => load() });

      function selected() {
        return [...listSection.querySelectorAll("tbody input[name=select]:checked")].map((input) => entries[Number(input.value)]);
      }

      function syncHeader() {
        const boxes = [...listSection.querySelectorAll("tbody input[name=select]")];
        const all = listSection.querySelector("thead input[name=select-page]");
        if (!all) return;
        const checked = boxes.filter((b) => b.checked).length;
        all.checked = checked > 0 && checked === boxes.length;
        all.indeterminate = checked > 0 && checked < boxes.length;
        const count = listSection.querySelector(".selection-count");
        if (count) count.textContent = checked ? `${checked} selected` : "";
      }

      function row(entry, index) {
        const retryOne = h("button", { type: "button", class: "secondary", text: "Retry", "aria-label": `Retry ${entry.id}` });
        retryOne.addEventListener("click", () => act(retryOne, () => retry([entry])));
        const compare = h("button", { type: "button", class: "secondary", text: "Compare", "aria-label": `Compare both sides of ${entry.id}` });
        compare.addEventListener("click", () => act(compare, () => showCompare(detail, entry.mapping,
          entry.side === "bc" ? { bcId: entry.id } : { dataverseId: entry.id }, load)));
        const check = h("input", { type: "checkbox", name: "select", value: String(index), "aria-label": `Select ${entry.mapping} ${entry.id}` });
        check.addEventListener("change", syncHeader);
        return h("tr", { "data-id": entry.id, "data-mapping": entry.mapping, "data-code": entry.code, class: entry.skipped ? "skipped" : null },
          h("td", {}, check),
          h("td", { text: entry.mapping }),
          h("td", { text: SIDES[entry.side] || entry.side }),
          h("td", {}, h("code", { text: entry.id })),
          h("td", {}, h("strong", { text: entry.code }), h("div", { text: entry.message })),
          h("td", { class: "number", text: String(entry.count) }),
          h("td", { class: "nowrap", text: time(entry.lastSeen) }),
          h("td", { text: entry.skipped ? "skipped" : "" }),
          h("td", {}, h("div", { class: "buttons" }, retryOne, compare)));
      }

      function needSelection(verb) {
        const chosen = selected();
        if (!chosen.length) throw new Error(`Select the errors to ${verb} first.`);
        return chosen;
      }

      function render() {
        const retrySelected = h("button", { type: "button", class: "secondary", text: "Retry selected" });
        retrySelected.addEventListener("click", () => act(retrySelected, () => retry(needSelection("retry"))));
        const deleteSelected = h("button", { type: "button", class: "secondary", text: "Delete Records" });
        deleteSelected.addEventListener("click", () => act(deleteSelected, () => actions.deleteRecords(needSelection("delete"))));
        const restoreSelected = h("button", { type: "button", class: "secondary", text: "Restore Records" });
        restoreSelected.addEventListener("click", () => act(restoreSelected, () => actions.restoreRecords(needSelection("restore"))));
        const uncoupleSelected = h("button", { type: "button", class: "secondary", text: "Remove Coupling" });
        uncoupleSelected.addEventListener("click", () => act(uncoupleSelected, () => actions.removeCoupling(needSelection("uncouple"))));
        const all = h("button", { type: "button", class: "secondary", text: "Retry all", disabled: !entries.length });
        all.addEventListener("click", () => act(all, retryAll));
        const skipped = entries.filter((e) => e.skipped);
        const restore = h("button", { type: "button", class: "secondary", text: `Restore skipped (${skipped.length})`, disabled: !skipped.length });
        restore.addEventListener("click", () => act(restore, () => retry(skipped, "Restored and retried")));
        const previous = h("button", { type: "button", class: "secondary", text: "Previous page", disabled: pageIndex === 0 });
        previous.addEventListener("click", () => act(previous, () => load(pageIndex - 1)));
        const next = h("button", { type: "button", class: "secondary", text: "Next page", disabled: !nextToken });
        next.addEventListener("click", () => act(next, () => {
          tokens = [...tokens.slice(0, pageIndex + 1), nextToken];
          return load(pageIndex + 1);
        }));
        const paged = pageIndex > 0 || Boolean(nextToken);
        const heading = paged ? `${entries.length} record error(s) on page ${pageIndex + 1}` : `${entries.length} record error(s)`;
        let list = h("p", { class: "ok-text", text: pageIndex ? "No more record errors." : "No record errors." });
        if (entries.length) {
          list = table("Record errors", ["", "Mapping", "Side", "Record id", "Error", "Count", "Last seen", "Skipped", "Actions"],
            entries.map(row), { hideCaption: true, class: "error-list errors" });
          const pageBox = h("input", { type: "checkbox", name: "select-page", "aria-label": "Select every error on this page" });
          pageBox.addEventListener("change", () => {
            for (const box of listSection.querySelectorAll("tbody input[name=select]")) box.checked = pageBox.checked;
            syncHeader();
          });
          list.querySelector("thead th").append(pageBox);
        }
        window.BCS.append(clear(listSection), [
          h("h2", { id: "errors-heading", tabindex: "-1", text: heading }),
          h("div", { class: "actions", role: "group", "aria-label": "Actions on the selected errors" },
            retrySelected, deleteSelected, restoreSelected, uncoupleSelected, h("span", { class: "hint selection-count" })),
          h("div", { class: "actions" }, all, restore),
          list,
          paged ? h("nav", { class: "actions pager", "aria-label": "Pages of record errors" }, previous,
            h("span", { class: "hint", text: `Page ${pageIndex + 1}` }), next) : null]);
      }

      const show = h("button", { type: "submit", text: "Show errors" });
      const find = h("button", { type: "button", class: "secondary", text: "Find for Deleted" });
      find.setAttribute("aria-describedby", "find-deleted-hint");
      find.addEventListener("click", () => act(find, findDeleted));
      const form = h("form", { class: "inline", novalidate: true, on: {
        submit: (event) => { event.preventDefault(); act(show, firstPage); },
      } }, field("Mapping", select), field("Rows per page", size), show, find);
      select.addEventListener("change", () => firstPage().catch(fail));
      size.addEventListener("change", () => firstPage().catch(fail));
      main.append(h("section", { class: "panel" }, form,
        h("p", { class: "hint", text: "Retrying restores skipped records and runs the mapping as a scheduled run would; a conflict stays a conflict until you keep one side (Compare)." }),
        h("p", { class: "hint", id: "find-deleted-hint", text: "Find for Deleted runs in the background (its progress shows here) and lists the chosen mapping's couplings whose record was deleted in one app; Delete Records then deletes the record left in the other app, Restore Records creates the deleted one again from it." })),
      findOutput, listSection, actionOutput, detail);
      select.addEventListener("mappings-loaded", () => act(show, firstPage), { once: true });
      return () => { stopped = true; window.clearTimeout(findTimer); };
    },
  });
})();
