// Full sync: BC's "Full Synch. Review" — start a run (every mapping that can run, each with its recommendation),
// then watch its lines update live: status, counters, progress from chunks done/total, throughput and errors; restart
// the failed lines, and the stalled ones (running, but the run made no progress for the stall setting's minutes:
// its messages were lost; a restart re-sends exactly its chunks not yet counted). The last run id is kept in
// sessionStorage so the review survives a reload. "Dry run" starts a run that only reports what each line would do
// (nothing written); a coupling line's "Left uncoupled" says how many records it left, and why. "Plan for review"
// plans a run without starting it (BC's review before Start): each line's recommendation is a labelled select the
// admin may change, and "Start planned run" starts it with the changed ones (`recommendations` of .../start).
"use strict";

(function () {
  const { api, h, clear, announce, fail, act, field, table, time, duration, secondsBetween, lastRun, rememberRun } = window.BCS;
  const POLL_MS = 1000;
  const SHOWN_COUNTERS = ["inserted", "modified", "unchanged", "coupled", "failed", "skipped"];
  const ENDED = ["finished", "failed"];
  const RECOMMENDATIONS = [["fullSynchronization", "Full synchronization"], ["coupleRecords", "Couple records"],
    ["noRecords", "No records"]];
  const LEFT_REASONS = [["noMatch", "no match"], ["severalMatches", "several matches"],
    ["matchCoupled", "match coupled to another record"], ["dataverseOnly", "only in Sales"]];

  // What a coupleRecords line left uncoupled, by reason, in words; empty when it left nothing.
  function leftCell(line) {
    const left = line.left || {};
    const parts = LEFT_REASONS.filter(([key]) => left[key]).map(([key, words]) => `${left[key]} ${words}`);
    return h("td", { class: "left-uncoupled", text: parts.join(", ") });
  }

  function progress(done, total, label, unit = "chunks") {
    const bar = h("progress", { max: total || 1, value: total ? Math.min(done, total) : 0, "aria-label": label });
    return h("span", { class: "progress" }, bar, h("span", { text: `${done}/${total || "?"} ${unit}` }));
  }

  function lineErrors(line) {
    const items = [];
    if (line.error) items.push(h("li", { class: "bad-text", text: line.error }));
    for (const entry of line.errors || []) {
      items.push(h("li", {}, h("code", { text: entry.id }), `: ${entry.code}: ${entry.message}${entry.skipped ? " (skipped)" : ""}`));
    }
    return items.length ? h("ul", { class: "compact" }, items) : "";
  }

  // A stalled line says since when nothing moved, in words (not only by colour).
  function statusCell(line) {
    if (line.status !== "stalled") return h("td", {}, h("span", { class: `badge status-${line.status}`, text: line.status }));
    return h("td", {},
      h("span", { class: "badge bad status-stalled", text: "stalled" }),
      h("span", { class: "hint", text: ` no progress since ${time(line.lastProgressOn)}; restart it` }));
  }

  // What the restart button does for this review, as its name says it: null when there is nothing to restart.
  function restartLabel(lines) {
    const failed = lines.some((line) => line.status === "failed");
    const stalled = lines.some((line) => line.status === "stalled");
    if (failed && stalled) return "Restart failed and stalled lines";
    if (stalled) return "Restart stalled lines";
    return failed ? "Restart failed lines" : null;
  }

  // A planned line's recommendation is a select (what a line may take instead: the API's rules); a started one's is text.
  function recommendationCell(line, planned) {
    if (!planned) return h("td", { text: line.recommendation });
    const choices = RECOMMENDATIONS.some(([value]) => value === line.recommendation)
      ? RECOMMENDATIONS : [[line.recommendation, line.recommendation], ...RECOMMENDATIONS];
    const select = h("select", {
      name: "recommendation", "aria-label": `Recommendation for ${line.mapping}`, "data-planned": line.recommendation,
      on: { change: (e) => e.currentTarget.classList.toggle("changed", e.currentTarget.value !== line.recommendation) },
    }, choices.map(([value, words]) => h("option", { value, text: words, selected: value === line.recommendation })));
    return h("td", {}, select);
  }

  function lineRow(line, planned) {
    const c = line.counters;
    return h("tr", { "data-mapping": line.mapping, "data-status": line.status },
      h("th", { scope: "row", text: line.mapping }),
      recommendationCell(line, planned),
      statusCell(line),
      h("td", {}, line.chunks.total === 0 || (line.chunks.total === null && ENDED.includes(line.status))
        ? h("span", { class: "hint", text: "no chunks" }) // noRecords, or a line that failed before planning
        : progress(line.chunks.done, line.chunks.total, `${line.mapping} progress`)),
      SHOWN_COUNTERS.map((name) => h("td", { class: "number", text: String(c[name]) })),
      leftCell(line),
      h("td", { class: "number", text: line.recordsPerSecond === null ? "–" : String(line.recordsPerSecond) }),
      h("td", { class: "nowrap", text: line.startedOn ? duration(secondsBetween(line.startedOn, line.finishedOn)) : "" }),
      h("td", {}, lineErrors(line)));
  }

  function reviewTable(review) {
    const headers = ["Mapping", "Recommendation", "Status", "Progress", ...SHOWN_COUNTERS, "Left uncoupled", "Records/s", "Duration", "Errors"];
    const planned = review.status === "planned";
    return table(`Review of run ${review.runId}`, headers, review.lines.map((line) => lineRow(line, planned)), { class: "review", hideCaption: true });
  }

  // The review of one run: GET /api/full-sync/{runId} (shared with the Jobs page's dead-lettered work).
  async function readReview(runId) {
    return (await api("GET", `full-sync/${encodeURIComponent(runId)}`)).data;
  }

  async function restart(runId) {
    const { data } = await api("POST", `full-sync/${encodeURIComponent(runId)}/restart`);
    announce(`Restarted the failed and stalled lines of run ${runId}.`);
    return data;
  }

  // The recommendations the admin changed on a planned run's review: {mapping: recommendation}.
  function changedRecommendations(body) {
    const changed = {};
    for (const select of body.querySelectorAll("select[name=recommendation]")) {
      if (select.value !== select.dataset.planned) changed[select.closest("tr").dataset.mapping] = select.value;
    }
    return changed;
  }

  async function startPlanned(runId, body) {
    const recommendations = changedRecommendations(body);
    const names = Object.entries(recommendations).map(([name, value]) => `${name} → ${value}`);
    await api("POST", `full-sync/${encodeURIComponent(runId)}/start`, { body: names.length ? { recommendations } : {} });
    announce(`Run ${runId} started${names.length ? ` with ${names.join(", ")}` : " as planned"}.`);
  }

  window.BCS.fullSync = { readReview, restart, lineErrors };

  window.BCS.register({
    id: "full-sync",
    title: "Full sync",
    render(main) {
      let timer = null;
      let stopped = false;
      const review = h("section", { class: "panel", "aria-labelledby": "review-heading" });
      const runInput = h("input", { type: "text", name: "runId", value: lastRun(), size: 44, autocomplete: "off" });
      const start = h("button", { type: "button", text: "Start full synchronization" });
      const dry = h("button", { type: "button", class: "secondary", text: "Dry run" });
      const plan = h("button", { type: "button", class: "secondary", text: "Plan for review" });
      const open = h("button", { type: "submit", class: "secondary", text: "Show run" });
      const left = h("div", { class: "left-out" });

      function schedule(runId) {
        window.clearTimeout(timer);
        if (!stopped) timer = window.setTimeout(() => show(runId, false), POLL_MS);
      }

      // The review's frame is built once per run; polls only update the texts, bars and rows, so focus and the
      // reading position stay where the admin left them.
      let frame = null;
      function build(runId) {
        const status = h("strong", { id: "run-status" });
        const lines = h("span");
        const restartButton = h("button", {
          type: "button", class: "secondary", text: "Restart failed lines",
          on: { click: (e) => act(e.currentTarget, async () => { await restart(runId); await show(runId, true); }) },
        });
        const body = h("div");
        const startButton = h("button", {
          type: "button", text: "Start planned run", hidden: true,
          on: { click: (e) => act(e.currentTarget, async () => { await startPlanned(runId, body); await show(runId, true); }) },
        });
        const plannedHint = h("p", { class: "hint", hidden: true,
          text: "Planned, not started: change a line's recommendation if BC's does not fit, then start the run." });
        clear(review).append(
          h("h2", { id: "review-heading", text: `Run ${runId}` }),
          h("p", {}, "Status: ", status, " · ", lines),
          plannedHint,
          h("div", { class: "actions" }, startButton, restartButton),
          body,
        );
        return { runId, status, lines, restartButton, startButton, plannedHint, body, stalled: new Set(), planned: false };
      }

      // Say it once when a line stalls (the live region), not on every poll.
      function announceStalled(data) {
        const now = new Set(data.lines.filter((line) => line.status === "stalled").map((line) => line.mapping));
        const fresh = [...now].filter((name) => !frame.stalled.has(name));
        frame.stalled = now;
        if (fresh.length) announce(`Stalled in run ${data.runId}: ${fresh.join(", ")}. Restart to re-send the missing chunks.`);
      }

      async function show(runId, fresh) {
        let data;
        try {
          data = await readReview(runId);
        } catch (error) {
          fail(error);
          return;
        }
        if (stopped) return;
        if (!frame || frame.runId !== runId) frame = build(runId);
        const ended = ENDED.includes(data.status);
        frame.status.textContent = data.dryRun ? `${data.status} (dry run: counters say what would happen, nothing was written)` : data.status;
        frame.status.dataset.runStatus = data.status;
        frame.lines.replaceChildren(`created ${time(data.createdOn)} · `,
          progress(data.progress.linesDone, data.progress.lines, "Lines done", "lines done"));
        const label = restartLabel(data.lines);
        frame.restartButton.disabled = label === null;
        frame.restartButton.textContent = label || "Restart failed lines";
        const planned = data.status === "planned";
        frame.startButton.hidden = !planned;
        frame.plannedHint.hidden = !planned;
        if (!planned || !frame.planned) frame.body.replaceChildren(reviewTable(data)); // keep the admin's choices
        frame.planned = planned;
        announceStalled(data);
        if (ended && !fresh) announce(`Run ${data.runId} ${data.status}.`);
        if (!ended && !planned) schedule(runId); // a planned run changes only when started: nothing to poll
      }

      const begin = (button, path, words, body = {}) => () => act(button, async () => {
        const { data } = await api("POST", path, { body });
        rememberRun(data.runId);
        runInput.value = data.runId;
        const notRunnable = Object.entries(data.notRunnable || {});
        clear(left).append(notRunnable.length
          ? h("details", {}, h("summary", { text: `${notRunnable.length} mappings left out` }),
            h("ul", { class: "compact" }, notRunnable.map(([name, why]) => h("li", { text: `${name}: ${why}` }))))
          : "");
        announce(`${words} ${data.runId} ${data.status === "planned" ? "planned: review it, then start it" : "started"}.`);
        await show(data.runId, true);
      });
      start.addEventListener("click", begin(start, "full-sync", "Full synchronization"));
      dry.addEventListener("click", begin(dry, "full-sync?dryRun=true", "Dry run"));
      plan.addEventListener("click", begin(plan, "full-sync", "Full synchronization", { start: false }));

      const form = h("form", { class: "inline", novalidate: true, on: {
        submit: (event) => {
          event.preventDefault();
          const runId = runInput.value.trim();
          if (!runId) { fail(new Error("Enter a run id.")); return; }
          rememberRun(runId);
          act(open, () => show(runId, true));
        },
      } }, field("Run id", runInput), open);

      main.append(
        h("section", { class: "panel" },
          h("p", { text: "A full synchronization runs every mapping that can run, in dependency order, fanned out on the sync-jobs queue." }),
          h("div", { class: "actions" }, start, dry, plan), left, form),
        review);
      if (lastRun()) show(lastRun(), true);
      return () => { stopped = true; window.clearTimeout(timer); };
    },
  });
})();
