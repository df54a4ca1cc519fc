// Sync errors: the actions on the selected rows that change couplings (errors.js shows the list and calls these).
// Delete Records (for a coupling whose record is gone in one app: shows what would be deleted, then "Confirm delete"
// sends the confirmation token the preview came with), Restore Records (the same couplings: the gone record is created
// again from the one left, and the two coupled) and Remove Coupling (both records stay, uncoupled). Each shows its
// outcome per selected id, announces a summary and reloads the page of the list shown.
"use strict";

(function () {
  const { api, h, clear, announce, act, table } = window.BCS;

  const SIDES = { bc: "Business Central", dv: "Sales" };
  const WHY_NOT = {
    bothExist: "both records still exist",
    bothDeleted: "both records are gone",
    notCoupled: "the record is not coupled",
    noError: "no error is listed for it",
    directionNotAllowed: "the mapping does not write to that app",
  };

  function byMapping(entries) {
    const grouped = {};
    for (const entry of entries) (grouped[entry.mapping] = grouped[entry.mapping] || []).push(entry.id);
    return grouped;
  }

  function deleteOutcome(record) {
    if (record.outcome === "toDelete") return "Will be deleted";
    if (record.outcome === "deleted") return "Deleted";
    if (record.outcome === "refused") return `Refused by ${SIDES[record.side] || "the app"}: ${record.message || record.code}`;
    return WHY_NOT[record.outcome] ? `Not deleted: ${WHY_NOT[record.outcome]}` : record.outcome;
  }

  function restoreOutcome(record) {
    if (record.outcome === "restored") return `Restored in ${SIDES[record.side]}`;
    if (record.outcome === "refused") return `Refused by ${SIDES[record.side] || "the app"}: ${record.message || record.code}`;
    if (record.outcome === "directionNotAllowed" && record.message) return `Not restored: ${record.message}`;
    return WHY_NOT[record.outcome] ? `Not restored: ${WHY_NOT[record.outcome]}` : record.outcome;
  }

  function removeOutcome(record) {
    if (record.outcome === "uncoupled") return "Uncoupled";
    return WHY_NOT[record.outcome] ? `Not uncoupled: ${WHY_NOT[record.outcome]}` : record.outcome;
  }

  // options: output (where a result or preview shows), list (the list's section, whose heading gets the focus back on
  // Close) and reload (reads the page of the list shown again).
  function create({ output, list, reload }) {
    function closeButton(text) {
      const close = h("button", { type: "button", class: "secondary", text });
      close.addEventListener("click", () => { clear(output); list.querySelector("h2").focus(); });
      return close;
    }

    function showPanel(headingText, hint, caption, columns, rows, buttons, extraClass) {
      const headingId = window.BCS.uid("action");
      clear(output).append(h("section", { class: `panel ${extraClass}`, "aria-labelledby": headingId },
        h("h2", { id: headingId, tabindex: "-1", text: headingText }),
        hint ? h("p", { id: `${headingId}-hint`, class: hint.bad ? "bad-text" : "hint", text: hint.text }) : null,
        table(caption, columns, rows, { class: extraClass === "delete-preview" ? "delete-list" : "action-list" }),
        h("div", { class: "actions" }, buttons)));
      output.querySelector(`#${headingId}`).focus();
      return headingId;
    }

    async function perMapping(route, chosen) {
      const results = [];
      for (const [mapping, ids] of Object.entries(byMapping(chosen))) {
        const { data } = await api("POST", route, { body: { mapping, ids } });
        results.push({ mapping, ids, data });
      }
      return results;
    }

    // Restore Records and Remove Coupling: one request per mapping of the selection, then the page again and the
    // outcome of each selected id.
    async function runAction(title, route, chosen, done, describe) {
      const results = await perMapping(route, chosen);
      const records = results.flatMap((r) => r.data.records.map((record) => ({ ...record, mapping: r.mapping })));
      const succeeded = records.filter((r) => r.outcome === done.outcome).length;
      const others = records.length - succeeded;
      await reload();
      const rows = records.map((r) => h("tr", { "data-id": r.id, "data-outcome": r.outcome },
        h("td", { text: r.mapping }),
        h("td", {}, h("code", { text: r.id })),
        h("td", {}, r.newId ? h("code", { text: r.newId }) : ""),
        h("td", { text: describe(r) })));
      showPanel(`${title}: result`, null, `${title} result`, ["Mapping", "Selected id", "New record id", "Outcome"],
        rows, [closeButton("Close")], "action-result");
      announce(`${title}: ${succeeded} ${done.verb}${others ? `, ${others} not ${done.verb}` : ""}.`);
    }

    // Delete Records, step 1: ask each mapping of the selection what would be deleted (nothing is deleted yet).
    async function previewDelete(chosen) {
      showDeletion(await perMapping("sync-errors/delete-records", chosen), false);
    }

    // Step 2: the same requests with the tokens the preview came with; a list that changed since is refused (409).
    async function confirmDelete(previews) {
      const results = [];
      for (const preview of previews) {
        if (!preview.data.confirmationToken) continue;
        const body = { mapping: preview.mapping, ids: preview.ids, confirmationToken: preview.data.confirmationToken };
        const { data } = await api("POST", "sync-errors/delete-records", { body });
        results.push({ mapping: preview.mapping, ids: preview.ids, data });
      }
      const deleted = results.flatMap((r) => r.data.records).filter((r) => r.outcome === "deleted").length;
      const refused = results.flatMap((r) => r.data.records).filter((r) => r.outcome === "refused").length;
      await reload();
      showDeletion(results, true);
      announce(`Delete Records: ${deleted} deleted${refused ? `, ${refused} refused` : ""}.`);
    }

    function showDeletion(previews, done) {
      const records = previews.flatMap((p) => p.data.records.map((r) => ({ ...r, mapping: p.mapping })));
      const deletable = records.filter((r) => r.outcome === "toDelete").length;
      const rows = records.map((r) => h("tr", { "data-id": r.id, "data-outcome": r.outcome },
        h("td", { text: r.mapping }),
        h("td", {}, h("code", { text: r.id })),
        h("td", { text: r.side ? SIDES[r.side] : "" }),
        h("td", {}, r.recordId ? h("code", { text: r.recordId }) : ""),
        h("td", { text: r.name || "" }),
        h("td", { text: deleteOutcome(r) })));
      const buttons = [];
      const confirm = !done && deletable ? h("button", { type: "button", class: "danger", text: "Confirm delete" }) : null;
      if (confirm) {
        confirm.addEventListener("click", () => act(confirm, () => confirmDelete(previews)));
        buttons.push(confirm);
      }
      buttons.push(closeButton(done || !deletable ? "Close" : "Cancel"));
      const hint = done ? null : deletable
        ? { bad: true, text: `${deletable} record(s) will be deleted in the app that still has them, with their couplings. This cannot be undone.` }
        : { bad: false, text: "Nothing can be deleted: Delete Records deletes the record left when its coupled record is gone in the other app." };
      const headingId = showPanel(done ? "Delete Records: result" : "Delete Records: what would be deleted", hint,
        done ? "Delete Records result" : "What would be deleted",
        ["Mapping", "Selected id", "Record in", "Record id", "Name", "Outcome"], rows, buttons, "delete-preview");
      if (confirm) confirm.setAttribute("aria-describedby", `${headingId}-hint`);
    }

    return {
      deleteRecords: previewDelete,
      restoreRecords: (chosen) => runAction("Restore Records", "sync-errors/restore-records", chosen,
        { outcome: "restored", verb: "restored" }, restoreOutcome),
      removeCoupling: (chosen) => runAction("Remove Coupling", "sync-errors/remove-coupling", chosen,
        { outcome: "uncoupled", verb: "uncoupled" }, removeOutcome),
    };
  }

  window.BCS.errorActions = { byMapping, create };
})();
