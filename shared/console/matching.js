// Match-based coupling: BC's "Match Based Coupling Criteria" and its background job, with the coupling log BC keeps
// only as counts. The admin picks the fields to match on (use, priority, case) and the options, previews what a run
// would couple, create or leave (a dry run: nothing written), starts the job (queued: its progress polled from
// /api/jobs/{jobId} until it ends, and no longer once the page changes), then reads its log a page at a time, by
// outcome. #/matching?mapping=CUSTOMER&job=<jobId> opens a job's progress and log again.
"use strict";

(function () {
  const { api, h, clear, announce, fail, act, field, table, mappingSelect, counters, uid } = window.BCS;
  const POLL_MS = 1000;
  const PAGE_SIZE = 25;
  const REASONS = {
    noMatch: "No match",
    severalMatches: "Several matches",
    matchCoupled: "Its one match is coupled to another record",
  };
  const OUTCOMES = { coupled: "Coupled", created: "Created in Sales", unmatched: "Left uncoupled", failed: "Failed" };

  function reasonText(reason, count) {
    const text = REASONS[reason] || reason || "";
    return reason === "severalMatches" && count ? `${text} (${count})` : text;
  }

  function recordCell(entry) {
    const label = [entry.number, entry.name].filter(Boolean).join(" ");
    return h("td", {}, label ? h("span", { class: "record-name", text: label }) : null,
      label ? h("br") : null, h("code", { class: "bc-id", text: entry.bcId }));
  }

  function outcomeBadge(outcome) {
    return h("span", { class: `badge outcome-${outcome}`, text: OUTCOMES[outcome] || outcome });
  }

  // The criteria editor: one row per field that can match, every control labelled by the field's names.
  function criteriaTable(answer) {
    const rows = answer.fields.map((f) => {
      const name = `${f.bcField} → ${f.dataverseField}`;
      const use = h("input", { type: "checkbox", name: "use", checked: f.use, "aria-label": `Use ${f.bcField} for matching` });
      const priority = h("input", { type: "number", name: "priority", min: "1", max: "100", step: "1", inputmode: "numeric",
        value: String(f.priority || 1), "aria-label": `Priority of ${f.bcField}` });
      const caseSensitive = h("input", { type: "checkbox", name: "caseSensitive", checked: f.caseSensitive,
        "aria-label": `Case-sensitive matching of ${f.bcField}` });
      const row = h("tr", { "data-key": f.key },
        h("th", { scope: "row" }, h("code", { text: name })), h("td", {}, use), h("td", {}, priority), h("td", {}, caseSensitive));
      row.read = () => ({ use: use.checked, criterion: { field: f.key, priority: Number(priority.value), caseSensitive: caseSensitive.checked } });
      row.controls = { field: use, priority, caseSensitive };
      return row;
    });
    const wrap = table(`Match criteria of ${answer.mapping}`, ["Field (Business Central → Sales)", "Use", "Priority", "Case-sensitive"],
      rows, { class: "match-criteria" });
    wrap.rows = rows;
    return wrap;
  }

  function previewTable(report) {
    const rows = [
      ...report.coupled.map((p) => ["coupled", p.bcId, p.dataverseId, `priority ${p.priority}`]),
      ...report.created.map((p) => ["created", p.bcId, p.dataverseId, ""]),
      ...report.unmatched.map((u) => ["unmatched", u.bcId, "", reasonText(u.reason, u.count)]),
      ...report.failed.map((f) => ["failed", f.bcId, "", `${f.code}: ${f.message}`]),
    ].map(([outcome, bcId, dvId, why]) => h("tr", { "data-outcome": outcome, "data-bc-id": bcId },
      recordCell({ bcId, name: (report.names || {})[bcId] }), h("td", {}, outcomeBadge(outcome)),
      h("td", {}, dvId ? h("code", { text: dvId }) : "–"), h("td", { text: why })));
    return table("What a run would do (nothing was written)", ["Business Central record", "Outcome", "Sales (Dataverse) id", "Priority or reason"],
      rows.length ? rows : [h("tr", {}, h("td", { colspan: "4", text: "No uncoupled record in the mapping's filter." }))],
      { class: "match-preview" });
  }

  window.BCS.register({
    id: "matching",
    title: "Match-based coupling",
    render(main, params) {
      let stopped = false;
      let timer = null;
      let editor = null;
      let criteriaAnswer = null;

      const mapping = mappingSelect({ value: params.get("mapping") || "CUSTOMER", enabledOnly: true });
      const create = h("input", { type: "checkbox", name: "createIfNoMatch", id: uid("create") });
      const syncAfter = h("input", { type: "checkbox", name: "synchronizeAfter", id: uid("sync-after") });
      const editorSlot = h("div", { class: "criteria-slot" });
      const previewButton = h("button", { type: "button", class: "secondary", text: "Preview (dry run)" });
      const startButton = h("button", { type: "button", text: "Start" });
      const previewSlot = h("div", { class: "preview-slot" });
      const jobSlot = h("div", { class: "job-slot" });

      const criteriaLoads = window.BCS.newest();
      async function loadCriteria() {
        const isNewest = criteriaLoads();
        const { data } = await api("GET", `couplings/${encodeURIComponent(mapping.value)}/match-criteria`);
        if (stopped || !isNewest()) return; // left, or another mapping was chosen meanwhile
        criteriaAnswer = data;
        editor = criteriaTable(data);
        clear(editorSlot).append(editor);
        create.checked = data.createIfNoMatch && data.canCreate;
        create.disabled = !data.canCreate;
        syncAfter.checked = data.synchronizeAfter;
        clear(previewSlot);
      }

      // The request body: the rows ticked "Use", in the table's order; a 400 naming `criteria[i].x` is shown on
      // that row's control (aria-invalid, focused) as well as in the alert.
      function body() {
        const used = editor.rows.map((row) => ({ row, ...row.read() })).filter((r) => r.use);
        if (!used.length) throw new Error("Tick “Use” on at least one field to match on.");
        for (const input of editorSlot.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
        editor.used = used;
        return { criteria: used.map((r) => r.criterion), createIfNoMatch: create.checked, synchronizeAfter: syncAfter.checked };
      }

      function showInvalid(error) {
        const found = /^criteria\[(\d+)\](?:\.(\w+))?$/.exec(error.field || "");
        const entry = found && editor && editor.used ? editor.used[Number(found[1])] : null;
        if (!entry) return;
        const control = entry.row.controls[found[2] || "field"] || entry.row.controls.field;
        control.setAttribute("aria-invalid", "true");
        control.focus();
      }

      async function withCriteria(action) {
        try {
          return await action(body());
        } catch (error) {
          showInvalid(error);
          throw error;
        }
      }

      previewButton.addEventListener("click", () => act(previewButton, () => withCriteria(async (request) => {
        const { data } = await api("POST", `couplings/${encodeURIComponent(mapping.value)}/match?dryRun=true`, { body: request });
        if (stopped) return;
        const summary = `A run would couple ${data.coupled.length}, create ${data.created.length} and leave ${data.unmatched.length} uncoupled`
          + (data.failed.length ? `; ${data.failed.length} would fail` : "") + ` (of ${data.examined} uncoupled records).`;
        clear(previewSlot).append(h("section", { class: "panel", "aria-labelledby": "preview-heading" },
          h("h2", { id: "preview-heading", text: "Preview (dry run)" }), h("p", { class: "preview-summary", text: summary }), previewTable(data)));
        announce(summary);
      })));

      startButton.addEventListener("click", () => act(startButton, () => withCriteria(async (request) => {
        const { data } = await api("POST", `couplings/${encodeURIComponent(mapping.value)}/match-jobs`, { body: request });
        announce(`Match-based coupling of ${data.mapping} queued as job ${data.jobId}.`);
        showJob(data.mapping, data.jobId);
      })));

      // -- the job: its progress until it ends, then its log --------------------------------------------------
      function showJob(mappingName, jobId) {
        window.clearTimeout(timer);
        const status = h("span", { class: "badge status-queued", text: "queued" });
        const progress = h("p", { class: "job-progress", "aria-live": "polite" }, "Status: ", status, " ", h("span", { class: "job-counters" }));
        const logSlot = h("div", { class: "log-slot" });
        clear(jobSlot).append(h("section", { class: "panel", "aria-labelledby": "job-heading" },
          h("h2", { id: "job-heading", text: "Coupling job" }),
          h("p", {}, "Job ", h("code", { class: "job-id", text: jobId }), ` (${mappingName})`), progress, logSlot));

        async function poll() {
          if (stopped) return;
          try {
            const { data } = await api("GET", `jobs/${encodeURIComponent(jobId)}?mapping=${encodeURIComponent(mappingName)}`);
            if (stopped) return;
            status.textContent = data.status;
            status.className = `badge status-${data.status}`;
            progress.querySelector(".job-counters").textContent = `${counters(data.counters)}${data.message ? ` — ${data.message}` : ""}`;
            if (data.status === "finished" || data.status === "failed") {
              announce(`Job ${jobId} ${data.status}: ${counters(data.counters)}.`);
              showLog(logSlot, mappingName, jobId);
              return;
            }
          } catch (error) {
            if (error.status !== 404) { fail(error); return; } // 404: not recorded yet, ask again
          }
          timer = window.setTimeout(poll, POLL_MS);
        }
        poll();
      }

      function showLog(slot, mappingName, jobId) {
        const outcome = h("select", { name: "outcome" }, h("option", { value: "", text: "All outcomes" }),
          Object.entries(OUTCOMES).map(([value, text]) => h("option", { value, text })));
        const previous = h("button", { type: "button", class: "secondary", text: "Previous page", disabled: true });
        const next = h("button", { type: "button", class: "secondary", text: "Next page", disabled: true });
        const rowsSlot = h("div", { class: "log-rows" });
        let tokens = [null]; // the token of each page shown so far (null: the first)
        let page = 0;
        let nextToken = null;

        const loads = window.BCS.newest();
        async function load() {
          const isNewest = loads();
          const query = new URLSearchParams({ top: String(PAGE_SIZE) });
          if (tokens[page]) query.set("continuationToken", tokens[page]);
          if (outcome.value) query.set("outcome", outcome.value);
          const { data } = await api("GET", `couplings/${encodeURIComponent(mappingName)}/match-jobs/${encodeURIComponent(jobId)}/log?${query}`);
          if (stopped || !isNewest()) return; // left, or a newer load (another outcome) answers instead
          nextToken = data.continuationToken;
          const rows = data.value.map((e) => h("tr", { "data-outcome": e.outcome, "data-bc-id": e.bcId },
            recordCell(e), h("td", {}, outcomeBadge(e.outcome)), h("td", {}, e.dataverseId ? h("code", { text: e.dataverseId }) : "–"),
            h("td", { text: [e.reason ? reasonText(e.reason, e.matches) : null, e.priority ? `priority ${e.priority}` : null,
              e.code ? `${e.code}: ${e.message || ""}` : null].filter(Boolean).join("; ") })));
          clear(rowsSlot).append(table(`Coupling log, page ${page + 1}`, ["Business Central record", "Outcome", "Sales (Dataverse) id", "Reason or error"],
            rows.length ? rows : [h("tr", {}, h("td", { colspan: "4", text: "No entry." }))], { class: "match-log" }));
          previous.disabled = page === 0;
          next.disabled = !nextToken;
          announce(`Coupling log page ${page + 1}: ${rows.length} record(s)${nextToken ? "; more on the next page" : ""}.`);
        }

        outcome.addEventListener("change", () => { tokens = [null]; page = 0; load().catch(fail); });
        previous.addEventListener("click", () => act(previous, () => { page = Math.max(0, page - 1); return load(); }));
        next.addEventListener("click", () => act(next, () => {
          if (!nextToken) return undefined;
          page += 1;
          tokens[page] = nextToken;
          return load();
        }));
        clear(slot).append(h("h3", { text: "Coupling log" }),
          h("div", { class: "log-controls" }, field("Show", outcome), h("div", { class: "actions" }, previous, next)), rowsSlot);
        load().catch(fail);
      }

      mapping.addEventListener("change", () => { loadCriteria().catch(fail); });
      mapping.addEventListener("mappings-loaded", () => {
        loadCriteria().catch(fail);
        if (params.get("job")) showJob(mapping.value, params.get("job"));
      }, { once: true });

      main.append(
        h("p", { class: "note", text: "Couples each uncoupled Business Central record to the one uncoupled Sales row holding the same values in the fields you choose. Lower priorities are tried first; all fields of one priority must match." }),
        h("section", { class: "panel", "aria-labelledby": "criteria-heading" },
          h("h2", { id: "criteria-heading", text: "Criteria" }),
          h("div", { class: "inline" }, field("Mapping", mapping)),
          editorSlot,
          h("div", { class: "choice" }, create, h("label", { for: create.id, text: "Create in Sales when no match is found" })),
          h("div", { class: "choice" }, syncAfter, h("label", { for: syncAfter.id, text: "Synchronize after coupling" })),
          h("div", { class: "actions" }, previewButton, startButton)),
        previewSlot,
        jobSlot);
      return () => { stopped = true; window.clearTimeout(timer); };
    },
  });
})();
