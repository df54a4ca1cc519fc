// Couplings of a mapping: the list section of the Couplings page (couplings.js renders it below its forms). A
// mapping's couplings one server-side page at a time (a mapping may hold 100,000): Synchronize Now or Uncouple on the
// selected rows, and "Uncouple all" as a queued job whose progress is polled until it ends (the polling stops when the
// page changes). Its own script because it is a part of its own weight with its own state (page tokens, selection,
// polling); it also holds the few helpers both sections use (Synchronize Now's choice of side, a side's state), since
// it loads first (index.html's script list).
"use strict";

(function () {
  const { api, h, append, clear, announce, fail, act, field, mappingSelect, time, uid, table } = window.BCS;
  const PAGE_SIZE = 50;
  const POLL_MS = 1000;
  const REASONS = { notCoupled: "not coupled", targetChanged: "target changed", skipped: "coupling skipped" };
  const SIDES = {
    toDataverse: "Business Central wins: overwrite Sales with Business Central's values",
    fromDataverse: "Sales wins: overwrite Business Central with Sales' values",
  };

  function radios(legend, name, choices, hint) {
    const fieldset = h("fieldset", {}, h("legend", { text: legend }));
    for (const [value, label] of Object.entries(choices)) {
      const input = h("input", { type: "radio", name, value, id: uid(name) });
      fieldset.append(h("div", { class: "choice" }, input, h("label", { for: input.id, text: label })));
    }
    if (hint) fieldset.append(h("p", { class: "hint", text: hint }));
    return fieldset;
  }

  function chosen(container, name) {
    const input = container.querySelector(`input[name="${name}"]:checked`);
    return input ? input.value : "";
  }

  function sideText(side) {
    return [side.lastResult || "not synchronized yet", side.modifiedOn ? `modified ${time(side.modifiedOn)}` : null,
      side.lastJobId ? `job ${side.lastJobId}` : null].filter(Boolean).join(" · ");
  }

  // -- the couplings of a mapping, one page at a time ---------------------------------------------------------------
  function couplingList(initialMapping) {
    const state = { tokens: [null], index: 0, next: null, stopped: false, timer: null };
    const mapping = mappingSelect({ value: initialMapping });
    const skippedOnly = h("input", { type: "checkbox", name: "skippedOnly" });
    const showButton = h("button", { type: "submit", text: "Show couplings" });
    const listOutput = h("div", { class: "coupling-list-output" });
    const result = h("div", { class: "selection-result" });
    const jobOutput = h("div", { class: "uncouple-all-output" });
    const previous = h("button", { type: "button", class: "secondary", text: "Previous page", disabled: true });
    const next = h("button", { type: "button", class: "secondary", text: "Next page", disabled: true });
    const pageLabel = h("span", { class: "page-label" });
    const selectedLabel = h("span", { class: "selected-count", text: "0 selected" });
    const syncChoice = radios("Synchronize selected: which side overwrites the other?", "list-sync-direction", SIDES,
      "Records changed on the overwritten side since their last synchronization, and skipped couplings, are left and reported (BC's rule for a selection).");
    const syncButton = h("button", { type: "button", text: "Synchronize selected" });
    const uncoupleButton = h("button", { type: "button", class: "danger", text: "Uncouple selected" });
    const allButton = h("button", { type: "button", class: "danger", text: "Uncouple all couplings of this mapping" });

    function rows() {
      return Array.from(listOutput.querySelectorAll('tbody input[type="checkbox"][name="select"]'));
    }
    function selectedIds() {
      return rows().filter((box) => box.checked).map((box) => box.value);
    }
    function updateSelection() {
      const boxes = rows();
      const count = boxes.filter((box) => box.checked).length;
      const all = listOutput.querySelector('thead input[name="select-page"]');
      if (all) {
        all.checked = boxes.length > 0 && count === boxes.length;
        all.indeterminate = count > 0 && count < boxes.length;
      }
      selectedLabel.textContent = `${count} selected`;
    }

    function couplingRow(coupling) {
      const box = h("input", { type: "checkbox", name: "select", value: coupling.bcId,
        "aria-label": `Select ${coupling.mapping} coupling of BC ${coupling.bcId}`, on: { change: updateSelection } });
      return h("tr", { "data-bc-id": coupling.bcId, class: coupling.skipped ? "skipped" : null },
        h("td", {}, box),
        h("td", {}, h("code", { text: coupling.bcId })),
        h("td", {}, h("code", { text: coupling.dataverseId })),
        h("td", { text: time(coupling.coupledOn) || "–" }),
        h("td", { text: coupling.synchronized ? "yes" : "not yet" }),
        h("td", { text: coupling.skipped ? "skipped" : "" }),
        h("td", { text: sideText(coupling.bc) }),
        h("td", { text: sideText(coupling.dataverse) }));
    }

    const loads = window.BCS.newest();
    async function load(index) {
      const isNewest = loads();
      const name = mapping.value;
      const token = state.tokens[index];
      const query = [`top=${PAGE_SIZE}`];
      if (token) query.push(`continuationToken=${encodeURIComponent(token)}`);
      if (skippedOnly.checked) query.push("skipped=true");
      const { data } = await api("GET", `couplings/${encodeURIComponent(name)}/list?${query.join("&")}`);
      if (state.stopped || !isNewest()) return data; // left, or a newer load (another mapping) answers instead
      const kept = index === state.index ? new Set(selectedIds()) : new Set(); // the same page again: keep its selection
      state.index = index;
      state.next = data.continuationToken;
      state.tokens[index + 1] = data.continuationToken;
      state.tokens.length = index + 2;
      const pageBox = h("input", { type: "checkbox", name: "select-page", "aria-label": "Select every coupling on this page",
        on: { change: (event) => { for (const box of rows()) box.checked = event.target.checked; updateSelection(); } } });
      const wrap = table(`Couplings of ${name}, page ${index + 1}`,
        ["", "Business Central id", "Sales (Dataverse) id", "Coupled on", "Synchronized", "Skipped", "Business Central side", "Sales side"],
        data.value.map(couplingRow), { class: "coupling-list" });
      wrap.querySelector("thead th").replaceChildren(pageBox);
      for (const box of wrap.querySelectorAll('tbody input[name="select"]')) box.checked = kept.has(box.value);
      const none = index ? "No more couplings." : `${name} has no couplings${skippedOnly.checked ? " marked skipped" : ""}.`;
      clear(listOutput).append(data.value.length ? wrap : h("p", { class: "empty", text: none }));
      pageLabel.textContent = `Page ${index + 1}${data.value.length ? ` · ${data.value.length} coupling(s)` : ""}`;
      previous.disabled = index === 0;
      next.disabled = !data.continuationToken;
      updateSelection();
      return data;
    }

    function first() {
      state.tokens = [null];
      return load(0);
    }

    function describeId(item) {
      return item.bcId ? `BC ${item.bcId}` : `Sales ${item.dataverseId}`;
    }

    async function synchronizeSelected() {
      const bcIds = selectedIds();
      if (!bcIds.length) throw new Error("Select the couplings to synchronize first.");
      const direction = chosen(syncChoice, "list-sync-direction");
      if (!direction) throw new Error("Choose which side wins before synchronizing.");
      const { data } = await api("POST", "synchronize/selected", { body: { mapping: mapping.value, direction, bcIds } });
      const counts = data.counts;
      const summary = `Synchronized ${counts.synchronized}, left ${counts.left}, failed ${counts.failed} of ${counts.selected} selected.`;
      append(clear(result), [
        h("h3", { text: summary }),
        data.synchronized.length ? h("section", { class: "synchronized" }, h("h4", { text: `Synchronized (${data.synchronized.length})` }),
          h("ul", { class: "compact" }, data.synchronized.map((r) => h("li", {}, h("code", { text: r.bcId }),
            ` — ${r.outcome}${r.changes.length ? `: ${r.changes.length} field(s) written` : ""}`)))) : null,
        data.left.length ? h("section", { class: "left" }, h("h4", { text: `Left, not overwritten (${data.left.length})` }),
          h("ul", { class: "compact" }, data.left.map((r) => h("li", { "data-reason": r.reason }, h("code", { text: describeId(r) }),
            ` — ${REASONS[r.reason] || r.reason}: ${r.message}`)))) : null,
        data.failed.length ? h("section", { class: "failed" }, h("h4", { text: `Failed (${data.failed.length})` }),
          h("ul", { class: "compact" }, data.failed.map((r) => h("li", {}, h("code", { text: describeId(r) }),
            ` — ${r.code}: ${r.message}`)))) : null]);
      await load(state.index);
      announce(summary);
    }

    async function uncoupleSelected() {
      const bcIds = selectedIds();
      if (!bcIds.length) throw new Error("Select the couplings to uncouple first.");
      const { data } = await api("POST", `couplings/${encodeURIComponent(mapping.value)}/uncouple`, { body: { bcIds } });
      const summary = `Uncoupled ${data.counts.uncoupled} of ${bcIds.length} selected ${mapping.value} coupling(s); neither app's records were changed.`;
      clear(result).append(h("h3", { text: summary }),
        h("ul", { class: "compact" }, data.value.map((r) => h("li", {}, h("code", { text: r.bcId }), ` — ${r.outcome === "uncoupled" ? "uncoupled" : "was not coupled"}`))));
      await load(state.index);
      announce(summary);
    }

    function stopPolling() {
      state.stopped = true;
      window.clearTimeout(state.timer);
    }

    function showJob(job) {
      const done = job.status === "finished" || job.status === "failed";
      const count = job.counters ? job.counters.uncoupled : 0;
      clear(jobOutput).append(h("section", { class: "panel uncouple-job", "aria-labelledby": "uncouple-job-heading" },
        h("h3", { id: "uncouple-job-heading", text: `Uncouple all ${job.mapping}: ${job.status}` }),
        h("p", { class: "progress" }, done ? null : h("progress", { "aria-label": "Uncoupling" }),
          h("span", { class: "uncoupled-count", text: `${count} uncoupled` })),
        job.message ? h("p", { class: "hint", text: job.message }) : null,
        h("p", { class: "hint" }, "Job ", h("code", { text: job.jobId }))));
      return done;
    }

    async function poll(jobId, jobMapping) {
      if (state.stopped) return;
      try {
        const { data } = await api("GET", `jobs/${encodeURIComponent(jobId)}?mapping=${encodeURIComponent(jobMapping)}`);
        if (state.stopped) return;
        if (showJob(data)) {
          announce(data.status === "finished" ? `${data.message}` : `Uncouple all failed: ${data.message}`);
          await load(0);
          return;
        }
      } catch (error) {
        if (state.stopped) return;
        fail(error);
      }
      state.timer = window.setTimeout(() => poll(jobId, jobMapping), POLL_MS);
    }

    function confirmAll() {
      const name = mapping.value;
      const yes = h("button", { type: "button", class: "danger", text: `Yes, uncouple all of ${name}` });
      const no = h("button", { type: "button", class: "secondary", text: "Cancel" });
      const panel = h("section", { class: "panel confirm", role: "group", "aria-labelledby": "confirm-all-heading" },
        h("h3", { id: "confirm-all-heading", text: `Uncouple every coupling of ${name}?` }),
        h("p", { text: "Every coupled record of this mapping is uncoupled in the background; neither app's records are changed (with several companies, the Sales rows' company stamp is cleared, as BC does). Records are no longer synchronized until coupled again." }),
        h("div", { class: "actions" }, yes, no));
      no.addEventListener("click", () => { clear(jobOutput); allButton.focus(); announce("Nothing was uncoupled."); });
      yes.addEventListener("click", () => act(yes, async () => {
        const { data } = await api("POST", `couplings/${encodeURIComponent(name)}/uncouple`, { body: { all: true } });
        showJob({ ...data, counters: { uncoupled: 0 }, message: "" });
        announce(`Uncoupling all couplings of ${name} in the background (job ${data.jobId}).`);
        poll(data.jobId, name);
      }));
      clear(jobOutput).append(panel);
      no.focus();
    }

    syncButton.addEventListener("click", () => act(syncButton, synchronizeSelected));
    uncoupleButton.addEventListener("click", () => act(uncoupleButton, uncoupleSelected));
    allButton.addEventListener("click", confirmAll);
    previous.addEventListener("click", () => act(previous, () => load(Math.max(0, state.index - 1))));
    next.addEventListener("click", () => act(next, () => load(state.index + 1)));
    mapping.addEventListener("change", () => first().catch(fail));
    skippedOnly.addEventListener("change", () => first().catch(fail));
    mapping.addEventListener("mappings-loaded", () => act(showButton, first), { once: true });
    const form = h("form", { class: "inline", novalidate: true, "aria-labelledby": "list-heading",
      on: { submit: (event) => { event.preventDefault(); act(showButton, first); } } },
    field("Mapping", mapping), field("Skipped only", skippedOnly), showButton);
    const section = h("section", { class: "panel coupling-list-panel" },
      h("h2", { id: "list-heading", text: "Couplings of a mapping" }), form,
      h("div", { class: "pager" }, previous, pageLabel, next),
      listOutput,
      h("div", { class: "selection-actions" }, selectedLabel, syncChoice, h("div", { class: "actions" }, syncButton, uncoupleButton)),
      result,
      h("div", { class: "actions" }, allButton),
      jobOutput);
    return { section, cleanup: stopPolling };
  }

  window.BCS.couplings = { couplingList, radios, chosen, sideText, SIDES };
})();
