// Mappings: BC's "Integration Table Mappings" — every table mapping with its direction, filters, schedule, whether it
// runs, its last successful job and how long ago that was (the lag), and its field mappings with coverage notes
// against BC's defaults. Enable/disable, reset to defaults and "Synchronize Modified Records" act on one mapping.
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

  function fieldRows(mapping) {
    return mapping.fields.map((f) => h("tr", { class: f.enabled ? null : "muted" },
      h("td", { text: f.bcField || (f.constant !== null ? `constant ${JSON.stringify(f.constant)}` : "") }),
      h("td", { text: f.dataverseField }),
      h("td", { class: "nowrap", text: short(f.direction) }),
      h("td", { text: [f.transform, f.lookup ? `lookup via ${f.lookup.mapping}` : null].filter(Boolean).join("; ") }),
      h("td", { text: f.enabled ? "yes" : "no" }),
      h("td", { text: [f.bcDefaultField ? `BC: ${f.bcDefaultField}` : null, f.note].filter(Boolean).join(". ") })));
  }

  function details(mapping) {
    const coverage = mapping.coverage || {};
    const summary = `Field mappings of ${mapping.name} (${mapping.fields.length} fields; coverage of BC's defaults: ` +
      `${coverage.mapped || 0} mapped, ${coverage.mappedDifferently || 0} mapped differently, ${coverage.notAvailable || 0} not available)`;
    const gaps = (mapping.gaps || []).map((gap) => h("li", {},
      h("strong", { text: `${gap.bcDefaultField} → ${gap.dataverseField}` }), ` (${gap.availability}): ${gap.reason}`));
    return h("details", { class: "mapping-details" },
      h("summary", { text: summary }),
      mapping.note ? h("p", { class: "note", text: mapping.note }) : null,
      table(`Field mappings of ${mapping.name}`, ["BC field", "Sales column", "Direction", "Transform / lookup", "Enabled", "Notes"],
        fieldRows(mapping), { hideCaption: true }),
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

  function rows(list, refresh, lastJobCells, notificationCells) {
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
        h("tr", { class: "details-row" }, h("td", { colspan: 7 }, details(mapping))),
      ];
    });
  }

  window.BCS.register({
    id: "mappings",
    title: "Mappings",
    render(main) {
      const section = h("section", { class: "panel", "aria-busy": "true" }, h("p", { text: "Loading mappings…" }));
      main.append(section);
      async function refresh() {
        const list = await mappings(true);
        const lastJobCells = {};
        const notificationCells = {};
        clear(section).append(
          h("p", { class: "hint", text: "Schedules are app settings (NCRONTAB); the lag is the time since the last successful job." }),
          table("Table mappings", ["Mapping", "Direction", "Filters", "Schedule", "State", "Last successful job", "Actions"],
            rows(list, refresh, lastJobCells, notificationCells), { hideCaption: true, class: "mappings" }),
        );
        fillLastJobs(list, lastJobCells);
        fillNotifications(notificationCells);
      }
      refresh().catch(fail).finally(() => section.removeAttribute("aria-busy"));
    },
  });
})();
