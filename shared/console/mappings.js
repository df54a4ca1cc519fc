// Mappings: BC's "Integration Table Mappings" — every table mapping with its direction, filters, schedule, whether it
// runs, its last successful job and how long ago that was (the lag), and its field mappings with coverage notes
// against BC's defaults. Enable/disable, reset to defaults and "Synchronize Modified Records" act on one mapping; the
// field mappings are an editor (BC's Integration Field Mapping List): Status, Direction narrowing, Constant Value.
// With notifications on (issue 23), a mapping whose last poll applied changes no notification brought shows
// "Notifications missed" with the count per side (read once from /api/health's `notifications` check).
"use strict";

(function () {
  const { api, h, clear, announce, fail, act, table, mappings, direction, time, duration, secondsBetween, counters } = window.BCS;
  const PARALLEL_JOB_READS = 4;
  const SHORT = { toDataverse: "BC → Sales", fromDataverse: "Sales → BC", bidirectional: "Both ways" };

  function short(value) {
    return SHORT[value] || direction(value);
  }

  async function lastSuccess(name) {
    const { data } = await api("GET", `jobs?mapping=${encodeURIComponent(name)}&limit=10`);
    return data.value.find((job) => job.status === "finished") || null;
  }

  // Reads the last successful job of every mapping, a few at a time (it is one read per mapping).
  async function fillLastJobs(list, cells) {
    const queue = [...list];
    async function worker() {
      while (queue.length) {
        const mapping = queue.shift();
        const cell = cells[mapping.name];
        try {
          const job = await lastSuccess(mapping.name);
          cell.replaceChildren(job
            ? h("span", {}, time(job.finishedOn), h("br"), h("span", { class: "hint", text: `lag ${duration(secondsBetween(job.finishedOn))}` }))
            : h("span", { class: "hint", text: "never" }));
        } catch (error) {
          cell.textContent = "unknown";
        }
      }
    }
    await Promise.all(Array.from({ length: PARALLEL_JOB_READS }, worker));
  }

  const SIDE = { bc: "BC", dv: "Sales" };

  // The mappings whose last poll found missed notifications: /api/health's `notifications` check of the console's
  // company ({} when notifications are off, or the answer has no such check).
  async function missedNotifications() {
    const { data } = await api("GET", "health", { allow: [503] });
    const check = data && data.checks ? data.checks.notifications : null;
    return (check && check.mappings) || {};
  }

  async function fillNotifications(cells) {
    let missed = {};
    try {
      missed = await missedNotifications();
    } catch (error) {
      return; // the health route is a dependency check: its failure is shown on its own, not per mapping
    }
    for (const [name, entry] of Object.entries(missed)) {
      const cell = cells[name];
      if (!cell) continue;
      const sides = Object.entries(entry.bySide || {}).map(([side, count]) => `${SIDE[side] || side} ${count}`).join(", ");
      cell.replaceChildren(h("span", {
        class: "badge bad", text: `Notifications missed: ${entry.missed} (${sides})`,
        title: "The last poll applied changes no notification brought (subscription expired or deleted, webhook step removed, endpoint down). Keep SYNC_SCHEDULE frequent until a poll finds none.",
      }));
    }
  }

  function filters(mapping) {
    const parts = [];
    if (mapping.bcFilter) parts.push(h("div", {}, h("span", { class: "label", text: "BC: " }), h("code", { text: mapping.bcFilter })));
    if (mapping.dataverseFilter) {
      parts.push(h("div", {}, h("span", { class: "label", text: "Sales: " }), h("code", { text: mapping.dataverseFilter })));
    }
    return parts.length ? parts : h("span", { class: "hint", text: "none" });
  }

  // The Fields editor (BC's Integration Field Mapping List): per field its Status (Enabled), its Direction (only the
  // narrowing ones the API lists in `directions`) and its Constant Value (only where `takesConstant`), each control
  // labelled with the field's names. Save sends the mapping's field overrides (the stored ones, with what changed
  // here) as one PATCH of `fields` alone; a refusal names the field (`fields.<key>.<attribute>`) and marks its row.
  function fieldName(f) {
    const bc = f.bcField || (f.constant !== null ? `constant ${JSON.stringify(f.constant)}` : "constant");
    return `${bc} → ${f.dataverseField || "constant"}`;
  }

  // The catalog's direction of a field: the widest it may take (going back to it drops the override).
  function widest(f) {
    return (f.directions || []).includes("bidirectional") ? "bidirectional" : (f.directions || [f.direction])[0];
  }

  function constantText(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  // The text typed, as the type of the field's constant (a number stays text when it is none: the API names it).
  function constantValue(text, like) {
    if (typeof like === "number" && text.trim() !== "" && !Number.isNaN(Number(text))) return Number(text);
    if (typeof like === "boolean" && (text === "true" || text === "false")) return text === "true";
    return text;
  }

  function fieldControls(mapping, f) {
    const label = `${fieldName(f)} (${mapping.name})`;
    const enabled = h("input", { type: "checkbox", name: "enabled", checked: f.enabled, "aria-label": `Enabled: ${label}` });
    const choices = f.directions && f.directions.length ? f.directions : [f.direction];
    const way = h("select", { name: "direction", "aria-label": `Direction: ${label}`, disabled: choices.length < 2 },
      choices.map((value) => h("option", { value, text: short(value), selected: value === f.direction })));
    const constant = f.takesConstant
      ? h("input", { type: "text", name: "constant", size: 12, maxlength: 100, value: constantText(f.constant), "aria-label": `Constant: ${label}` })
      : null;
    return { f, enabled, way, constant };
  }

  // What the admin changed in the editor, per field key: only the attributes that differ from what was shown.
  function changes(controls) {
    const changed = {};
    for (const { f, enabled, way, constant } of controls) {
      const change = {};
      if (enabled.checked !== f.enabled) change.enabled = enabled.checked;
      if (way.value !== f.direction) change.direction = way.value;
      if (constant && constant.value !== constantText(f.constant)) change.constant = constantValue(constant.value, f.constant);
      if (Object.keys(change).length) changed[f.key] = change;
    }
    return changed;
  }

  // The mapping's field overrides after this edit: the stored ones (as objects), the changes on top; a direction
  // back to the catalog's is dropped, and a field whose override says nothing any more is left out.
  function fieldOverrides(mapping, changed) {
    const stored = (mapping.overrides && mapping.overrides.fields) || {};
    const byKey = Object.fromEntries(mapping.fields.map((f) => [f.key, f]));
    const merged = {};
    for (const key of new Set([...Object.keys(stored), ...Object.keys(changed)])) {
      const before = typeof stored[key] === "boolean" ? { enabled: stored[key] } : { ...(stored[key] || {}) };
      const after = { ...before, ...(changed[key] || {}) };
      if (byKey[key] && after.direction === widest(byKey[key])) delete after.direction;
      const names = Object.keys(after);
      if (!names.length) continue;
      merged[key] = names.length === 1 && names[0] === "enabled" ? after.enabled : after;
    }
    return merged;
  }

  function storedSummary(mapping) {
    const stored = Object.entries((mapping.overrides && mapping.overrides.fields) || {});
    if (!stored.length) return "No field overrides: every field as the catalog maps it.";
    const words = stored.map(([key, change]) => {
      const parts = typeof change === "boolean" ? { enabled: change } : change;
      const said = [];
      if ("enabled" in parts) said.push(parts.enabled ? "enabled" : "disabled");
      if (parts.direction) said.push(short(parts.direction));
      if ("constant" in parts) said.push(`constant ${JSON.stringify(parts.constant)}`);
      return `${key}: ${said.join(", ")}`;
    });
    return `Field overrides: ${words.join("; ")}.`;
  }

  async function saveFields(mapping, controls, rowsByKey, refresh) {
    for (const row of Object.values(rowsByKey)) row.removeAttribute("aria-invalid");
    const changed = changes(controls);
    if (!Object.keys(changed).length) {
      announce(`${mapping.name}: no field changed.`);
      return;
    }
    try {
      await api("PATCH", `mappings/${encodeURIComponent(mapping.name)}`, { body: { fields: fieldOverrides(mapping, changed) } });
    } catch (error) {
      const key = (error.field || "").replace(/^fields\./, "").replace(/\.(enabled|direction|constant)$/, "");
      if (rowsByKey[key]) rowsByKey[key].setAttribute("aria-invalid", "true");
      throw error;
    }
    const updated = await refresh(mapping.name);
    const again = document.querySelector(`details[data-mapping="${CSS.escape(mapping.name)}"] .fields-editor button`);
    if (again) again.focus(); // the editor was drawn again: keep the keyboard where it was
    announce(`${mapping.name}: field changes saved. ${storedSummary(updated || mapping)}`);
  }

  function fieldRows(mapping, controls, rowsByKey) {
    return controls.map(({ f, enabled, way, constant }) => {
      rowsByKey[f.key] = h("tr", { class: f.enabled ? null : "muted", "data-field": f.key },
        h("th", { scope: "row", text: f.bcField || (f.constant !== null ? `constant ${JSON.stringify(f.constant)}` : "") }),
        h("td", { text: f.dataverseField }),
        h("td", { class: "center" }, enabled),
        h("td", { class: "nowrap" }, way),
        h("td", {}, constant || h("span", { class: "hint", text: "—" })),
        h("td", { text: [f.transform, f.lookup ? `lookup via ${f.lookup.mapping}` : null].filter(Boolean).join("; ") }),
        h("td", { text: [f.bcDefaultField ? `BC: ${f.bcDefaultField}` : null, f.note].filter(Boolean).join(". ") }));
      return rowsByKey[f.key];
    });
  }

  function details(mapping, refresh, open) {
    const coverage = mapping.coverage || {};
    const summary = `Field mappings of ${mapping.name} (${mapping.fields.length} fields; coverage of BC's defaults: ` +
      `${coverage.mapped || 0} mapped, ${coverage.mappedDifferently || 0} mapped differently, ${coverage.notAvailable || 0} not available)`;
    const gaps = (mapping.gaps || []).map((gap) => h("li", {},
      h("strong", { text: `${gap.bcDefaultField} → ${gap.dataverseField}` }), ` (${gap.availability}): ${gap.reason}`));
    const controls = mapping.fields.map((f) => fieldControls(mapping, f));
    const rowsByKey = {};
    const save = h("button", {
      type: "button", text: "Save field changes", "aria-label": `Save field changes of ${mapping.name}`,
      on: { click: (e) => act(e.currentTarget, () => saveFields(mapping, controls, rowsByKey, refresh)) },
    });
    return h("details", { class: "mapping-details", open, "data-mapping": mapping.name },
      h("summary", { text: summary }),
      mapping.note ? h("p", { class: "note", text: mapping.note }) : null,
      controls.length ? h("div", { class: "fields-editor" },
        table(`Field mappings of ${mapping.name}`, ["BC field", "Sales column", "Enabled", "Direction", "Constant", "Transform / lookup", "Notes"],
          fieldRows(mapping, controls, rowsByKey), { hideCaption: true, class: "field-list" }),
        h("p", { class: "hint field-overrides", text: storedSummary(mapping) }),
        h("div", { class: "buttons" }, save)) : null,
      gaps.length ? h("div", {}, h("h4", { text: "Not carried, and why" }), h("ul", {}, gaps)) : null);
  }

  async function setEnabled(mapping, enabled, refresh) {
    await api("PATCH", `mappings/${encodeURIComponent(mapping.name)}`, { body: { enabled } });
    await refresh();
    announce(`${mapping.name} is now ${enabled ? "enabled" : "disabled"}.`);
  }

  async function reset(mapping, refresh) {
    await api("POST", `mappings/${encodeURIComponent(mapping.name)}/reset`);
    await refresh();
    announce(`${mapping.name} is back to its defaults (overrides dropped).`);
  }

  async function runNow(mapping) {
    const { data } = await api("POST", `mappings/${encodeURIComponent(mapping.name)}/synchronize`);
    announce(`${mapping.name}: job ${data.jobId} ${data.status}: ${counters(data.counters)}.`);
  }

  function rows(list, refresh, lastJobCells, notificationCells, openName) {
    return list.flatMap((mapping) => {
      const label = (verb) => `${verb} ${mapping.name}`;
      const toggle = h("button", {
        type: "button", class: "secondary", text: mapping.enabled ? "Disable" : "Enable", "aria-label": label(mapping.enabled ? "Disable" : "Enable"),
        on: { click: (e) => act(e.currentTarget, () => setEnabled(mapping, !mapping.enabled, refresh)) },
      });
      const run = h("button", {
        type: "button", class: "secondary", text: "Synchronize now", "aria-label": label("Synchronize modified records of"),
        disabled: !mapping.enabled, on: { click: (e) => act(e.currentTarget, () => runNow(mapping)) },
      });
      const resetButton = h("button", {
        type: "button", class: "secondary", text: "Reset", "aria-label": label("Reset to defaults:"),
        disabled: !Object.keys(mapping.overrides || {}).length,
        on: { click: (e) => act(e.currentTarget, () => reset(mapping, refresh)) },
      });
      lastJobCells[mapping.name] = h("td", { class: "nowrap" }, h("span", { class: "hint", text: "…" }));
      const overridden = Object.keys(mapping.overrides || {});
      notificationCells[mapping.name] = h("div", { class: "notifications" });
      return [
        h("tr", { "data-mapping": mapping.name },
          h("th", { scope: "row" }, h("span", { class: "name", text: mapping.name }), h("br"),
            h("span", { class: "hint", text: `${mapping.bcEntitySet || mapping.bcEntity} ↔ ${mapping.dataverseEntitySet || mapping.dataverseTable}` })),
          h("td", { class: "nowrap", text: short(mapping.direction) }),
          h("td", {}, filters(mapping)),
          h("td", {}, mapping.schedule ? h("code", { class: "setting", text: mapping.schedule }) : h("span", { class: "hint", text: "none (on demand)" })),
          h("td", {}, h("span", { class: mapping.enabled ? "badge ok" : "badge", text: mapping.enabled ? "Enabled" : "Disabled" }),
            overridden.length ? h("div", { class: "hint", text: `overrides: ${overridden.join(", ")}` }) : null,
            notificationCells[mapping.name]),
          lastJobCells[mapping.name],
          h("td", {}, h("div", { class: "buttons" }, toggle, run, resetButton))),
        h("tr", { class: "details-row" }, h("td", { colspan: 7 }, details(mapping, refresh, mapping.name === openName))),
      ];
    });
  }

  window.BCS.register({
    id: "mappings",
    title: "Mappings",
    render(main) {
      const section = h("section", { class: "panel", "aria-busy": "true" }, h("p", { text: "Loading mappings…" }));
      main.append(section);
      // Shows the mappings again (the one named open, as after saving its fields); returns that mapping.
      async function refresh(openName) {
        const list = await mappings(true);
        const lastJobCells = {};
        const notificationCells = {};
        clear(section).append(
          h("p", { class: "hint", text: "Schedules are app settings (NCRONTAB); the lag is the time since the last successful job." }),
          table("Table mappings", ["Mapping", "Direction", "Filters", "Schedule", "State", "Last successful job", "Actions"],
            rows(list, refresh, lastJobCells, notificationCells, openName), { hideCaption: true, class: "mappings" }),
        );
        fillLastJobs(list, lastJobCells);
        fillNotifications(notificationCells);
        return list.find((mapping) => mapping.name === openName) || null;
      }
      refresh(null).catch(fail).finally(() => section.removeAttribute("aria-busy"));
    },
  });
})();
