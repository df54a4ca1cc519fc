// Couplings: BC's "Coupled Data Synchronization" actions on one record — find its coupling by the BC or the Sales
// (Dataverse) id; couple two records; uncouple; Synchronize Now with an explicit choice of which side overwrites the
// other; create the record in the other app when it is not coupled. And the couplings of a mapping as a list, one
// server-side page at a time (a mapping may hold 100,000): Synchronize Now or Uncouple on the selected rows, and
// "Uncouple all" as a queued job whose progress is polled until it ends (the polling stops when the page changes).
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

  function changesList(report) {
    if (!report.changes.length) return h("p", { text: "No field differed: nothing was written." });
    return h("ul", { class: "compact" }, report.changes.map((c) => h("li", {},
      h("code", { text: report.direction === "toDataverse" ? c.dataverseField : c.bcField }),
      `: ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`)));
  }

  // BC's "Update Account Statistics" on a coupled customer: the account's statistics row, then the payment status of
  // the customer's coupled invoices. Shows the figures written (an empty one: no API gives it) and invoices changed.
  const FIGURE_NAMES = [
    ["nav_balancelcy", "Balance"], ["nav_outstandingorderslcy", "Outstanding orders"],
    ["nav_shippednotinvoicedlcy", "Shipped not invoiced"], ["nav_outstandinginvoiceslcy", "Outstanding invoices"],
    ["nav_overdueamountslcy", "Overdue amounts"], ["nav_totalsaleslcy", "Total sales"],
    ["nav_creditlimitlcy", "Credit limit"], ["nav_totallcy", "Total"],
  ];
  function statisticsButton(coupling, onChange) {
    const button = h("button", { type: "button", class: "secondary", text: "Update account statistics" });
    button.addEventListener("click", () => act(button, async () => {
      const { data } = await api("POST", `customers/${encodeURIComponent(coupling.bcId)}/update-statistics`);
      const figures = h("dl", { class: "facts statistics" }, FIGURE_NAMES.flatMap(([name, label]) => [
        h("dt", { text: label }), h("dd", { text: data.values[name] === null ? "-- (not in API v2.0)" : String(data.values[name]) })]));
      const invoices = `${data.invoices.statusChanged} of ${data.invoices.coupled} coupled invoice(s) got a new payment status`
        + (data.invoices.failed ? `; ${data.invoices.failed} refused: ${data.invoices.errors.join("; ")}` : "") + ".";
      await onChange([h("h3", { text: `Account statistics ${data.outcome}` }), figures, h("p", { class: "invoices", text: invoices })]);
      announce(`Account statistics ${data.outcome}; ${invoices}`);
    }));
    return button;
  }

  // The coupling card with its actions; `onChange(note)` re-reads it and shows `note` (what an action did) in it.
  function couplingCard(coupling, onChange, onGone, note) {
    const card = h("section", { class: "panel coupling", "aria-labelledby": "coupling-heading", "data-bc-id": coupling.bcId });
    const result = h("div", { class: "result" }, note || null);
    const syncChoice = radios("Synchronize Now: which side overwrites the other?", "sync-direction", SIDES,
      "Only the chosen direction is written; the other side's differing values are replaced.");
    const syncButton = h("button", { type: "button", text: "Synchronize now" });
    syncButton.addEventListener("click", () => act(syncButton, async () => {
      const direction = chosen(syncChoice, "sync-direction");
      if (!direction) throw new Error("Choose which side wins before synchronizing.");
      const { data } = await api("POST", "synchronize", { body: { mapping: coupling.mapping, bcId: coupling.bcId, direction } });
      await onChange([h("h3", { text: `Synchronized (${data.outcome})` }), changesList(data)]);
      announce(`Synchronized ${coupling.mapping} record: ${data.changes.length} field(s) written.`);
    }));
    const uncouple = h("button", { type: "button", class: "danger", text: "Uncouple" });
    uncouple.addEventListener("click", () => act(uncouple, async () => {
      await api("DELETE", `couplings/${encodeURIComponent(coupling.mapping)}/${encodeURIComponent(coupling.bcId)}`);
      announce(`Uncoupled: ${coupling.mapping} BC ${coupling.bcId} and Sales ${coupling.dataverseId} are no longer coupled.`);
      onGone(coupling);
    }));
    const compareButton = h("button", { type: "button", class: "secondary", text: "Compare both sides" });
    compareButton.addEventListener("click", () => act(compareButton, async () => {
      await window.BCS.compare.show(result, coupling.mapping, { bcId: coupling.bcId }, () => onChange());
    }));
    const actions = [syncButton, compareButton];
    if (coupling.mapping === "CUSTOMER") actions.push(statisticsButton(coupling, onChange));
    card.append(
      h("h2", { id: "coupling-heading", text: `Coupled (${coupling.mapping})` }),
      h("dl", { class: "facts" },
        h("dt", { text: "Business Central id" }), h("dd", {}, h("code", { class: "bc-id", text: coupling.bcId })),
        h("dt", { text: "Sales (Dataverse) id" }), h("dd", {}, h("code", { class: "dv-id", text: coupling.dataverseId })),
        h("dt", { text: "Coupled on" }), h("dd", { text: time(coupling.coupledOn) || "–" }),
        h("dt", { text: "Synchronized" }), h("dd", { text: coupling.synchronized ? "yes" : "not yet" }),
        h("dt", { text: "Skipped" }), h("dd", { text: coupling.skipped ? "yes (a repeated error): retry it on Sync errors" : "no" }),
        h("dt", { text: "Business Central side" }), h("dd", { text: sideText(coupling.bc) }),
        h("dt", { text: "Sales side" }), h("dd", { text: sideText(coupling.dataverse) })),
      syncChoice,
      h("div", { class: "actions" }, ...actions, uncouple),
      result,
    );
    return card;
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

    async function load(index) {
      const name = mapping.value;
      const token = state.tokens[index];
      const query = [`top=${PAGE_SIZE}`];
      if (token) query.push(`continuationToken=${encodeURIComponent(token)}`);
      if (skippedOnly.checked) query.push("skipped=true");
      const { data } = await api("GET", `couplings/${encodeURIComponent(name)}/list?${query.join("&")}`);
      if (state.stopped) return data;
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
    mapping.addEventListener("change", () => act(showButton, first));
    skippedOnly.addEventListener("change", () => act(showButton, first));
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

  window.BCS.register({
    id: "couplings",
    title: "Couplings",
    render(main, params) {
      const output = h("div", { class: "coupling-output" });

      // -- find ------------------------------------------------------------------------------------------------
      const findMapping = mappingSelect({ value: params.get("mapping") || "CUSTOMER" });
      const idKind = h("select", { name: "idKind" },
        h("option", { value: "bcNumber", text: "Business Central No." }),
        h("option", { value: "bcId", text: "Business Central id" }), h("option", { value: "dataverseId", text: "Sales (Dataverse) id" }));
      const idInput = h("input", { type: "text", name: "recordId", size: 40, autocomplete: "off",
        value: params.get("bcNumber") || params.get("bcId") || params.get("dataverseId") || "" });
      idKind.value = ["dataverseId", "bcId"].find((kind) => params.get(kind)) || "bcNumber";
      const findButton = h("button", { type: "submit", text: "Find coupling" });

      async function find(note) {
        const mapping = findMapping.value;
        const id = idInput.value.trim();
        if (!id) throw new Error(idKind.value === "bcNumber" ? "Enter the record's number." : "Enter the record's id.");
        if (idKind.value === "bcNumber") return findByNumber(mapping, id, note);
        try {
          const { data } = await api("GET", `couplings/${encodeURIComponent(mapping)}?${idKind.value}=${encodeURIComponent(id)}`);
          clear(output).append(couplingCard(data, find, gone, note));
          if (!note) announce(`Found the coupling of ${mapping} record ${id}.`);
        } catch (error) {
          if (error.code !== "notCoupled") throw error;
          clear(output).append(notCoupled(mapping, idKind.value, id));
          announce(`${mapping} record ${id} is not coupled.`);
        }
      }

      // BC's No. (or Code): one call gives the record's id and its coupling, or null when it has none
      async function findByNumber(mapping, number, note) {
        const { data } = await api("GET", `records/${encodeURIComponent(mapping)}/by-number?number=${encodeURIComponent(number)}`);
        if (data.coupling) {
          clear(output).append(couplingCard(data.coupling, find, gone, note));
          if (!note) announce(`Found the coupling of ${mapping} ${data.number}.`);
          return;
        }
        clear(output).append(notCoupled(mapping, "bcId", data.bcId, data.number));
        announce(`${mapping} ${data.number} is not coupled.`);
      }

      function gone(coupling) {
        clear(output).append(h("section", { class: "panel" }, h("h2", { text: "Uncoupled" }),
          h("p", { text: `${coupling.mapping}: BC ${coupling.bcId} and Sales ${coupling.dataverseId} are no longer coupled. Neither record was changed.` })));
      }

      function notCoupled(mapping, kind, id, number) {
        const target = kind === "bcId" ? "Sales" : "Business Central";
        const create = h("button", { type: "button", text: `Create in ${target} and couple` });
        create.addEventListener("click", () => act(create, async () => {
          const route = kind === "bcId" ? "create-in-dataverse" : "create-in-business-central";
          const { data } = await api("POST", `records/${encodeURIComponent(mapping)}/${route}`, { body: { [kind]: id } });
          clear(output).append(couplingCard(data, find, gone));
          announce(`Created in ${target} and coupled.`);
        }));
        return h("section", { class: "panel" }, h("h2", { text: "Not coupled" }),
          h("p", { text: `${mapping} record ${number ? `${number} (${id})` : id} is not coupled. Couple it with an existing record below, or create it in ${target}.` }),
          h("div", { class: "actions" }, create));
      }

      const findForm = h("form", { class: "inline", novalidate: true, "aria-labelledby": "find-heading",
        on: { submit: (event) => { event.preventDefault(); act(findButton, () => find()); } } },
      field("Mapping", findMapping), field("Find by", idKind), field("Record No. or id", idInput), findButton);

      // -- couple ----------------------------------------------------------------------------------------------
      const coupleMapping = mappingSelect({ value: "CUSTOMER" });
      const bcInput = h("input", { type: "text", name: "bcId", size: 40, autocomplete: "off" });
      const dvInput = h("input", { type: "text", name: "dataverseId", size: 40, autocomplete: "off" });
      const after = h("select", { name: "synchronize" },
        h("option", { value: "", text: "Do not synchronize" }),
        h("option", { value: "toDataverse", text: "Business Central wins (toDataverse)" }),
        h("option", { value: "fromDataverse", text: "Sales wins (fromDataverse)" }));
      const coupleButton = h("button", { type: "submit", text: "Couple" });
      const coupleForm = h("form", { class: "inline", novalidate: true, "aria-labelledby": "couple-heading",
        on: { submit: (event) => { event.preventDefault(); act(coupleButton, couple); } } },
      field("Mapping", coupleMapping), field("Business Central id", bcInput), field("Sales (Dataverse) id", dvInput),
      field("After coupling", after), coupleButton);

      async function couple() {
        const body = { mapping: coupleMapping.value, bcId: bcInput.value.trim(), dataverseId: dvInput.value.trim() };
        if (!body.bcId || !body.dataverseId) throw new Error("Enter both ids to couple two records.");
        if (after.value) body.synchronize = after.value;
        const { data } = await api("POST", "couplings", { body });
        findMapping.value = body.mapping;
        idKind.value = "bcId";
        idInput.value = body.bcId;
        clear(output).append(couplingCard(data.coupling, find, gone));
        const syncNote = data.synchronizationError ? ` Synchronizing failed: ${data.synchronizationError.message}` : "";
        announce(`Coupled ${body.mapping}: BC ${body.bcId} with Sales ${body.dataverseId}.${syncNote}`);
      }

      const list = couplingList(params.get("mapping") || "CUSTOMER");
      main.append(
        h("section", { class: "panel" }, h("h2", { id: "find-heading", text: "Find a coupling" }), findForm),
        h("section", { class: "panel" }, h("h2", { id: "couple-heading", text: "Couple two records" }), coupleForm),
        output,
        list.section);
      if (idInput.value) findMapping.addEventListener("mappings-loaded", () => act(findButton, () => find()), { once: true });
      return list.cleanup;
    },
  });
})();
