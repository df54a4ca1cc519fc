// Couplings: BC's "Coupled Data Synchronization" actions on one record — find its coupling by the BC or the Sales
// (Dataverse) id; couple two records; uncouple; Synchronize Now with an explicit choice of which side overwrites the
// other; create the record in the other app when it is not coupled. The couplings of a mapping as a list (paging,
// selection, Synchronize/Uncouple selected, Uncouple all) are coupling_list.js's section, shown below these forms.
"use strict";

(function () {
  const { api, h, clear, announce, act, field, mappingSelect, time } = window.BCS;
  const { couplingList, radios, chosen, sideText, SIDES } = window.BCS.couplings;

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
