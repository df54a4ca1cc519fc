// Jobs: the recent sync jobs of a mapping (BC's "Integration Synch. Job Entries") with counters and duration, and the
// dead-lettered work of the last full synchronization: a chunk that failed every delivery leaves its line failed;
// "Replay" re-runs the run's failed lines (POST /api/full-sync/{runId}/restart).
"use strict";

(function () {
  const { api, h, clear, announce, fail, act, field, table, mappingSelect, time, duration, secondsBetween, counters, lastRun } = window.BCS;
  const LIMIT = 50;

  function jobRow(job) {
    return h("tr", { "data-job": job.jobId },
      h("td", {}, h("code", { text: job.jobId })),
      h("td", {}, h("span", { class: `badge status-${job.status}`, text: job.status })),
      h("td", { class: "nowrap", text: time(job.startedOn) }),
      h("td", { class: "nowrap", text: time(job.finishedOn) }),
      h("td", { class: "nowrap", text: job.finishedOn ? duration(secondsBetween(job.startedOn, job.finishedOn)) : "running" }),
      h("td", { text: counters(job.counters) }),
      h("td", { text: job.message || "" }));
  }

  const jobLoads = window.BCS.newest();
  async function loadJobs(section, mapping) {
    const isNewest = jobLoads();
    const { data } = await api("GET", `jobs?mapping=${encodeURIComponent(mapping)}&limit=${LIMIT}`);
    if (!isNewest()) return; // a newer load (another mapping) answers instead
    clear(section).append(
      h("h2", { id: "jobs-heading", text: `Recent jobs of ${mapping}` }),
      data.value.length
        ? table(`Recent jobs of ${mapping}`, ["Job", "Status", "Started", "Finished", "Duration", "Counters", "Message"],
          data.value.map(jobRow), { hideCaption: true })
        : h("p", { text: `No jobs of ${mapping} yet.` }));
  }

  // The queue's dead-letter count, as the health check reads it (the messages themselves stay in Service Bus).
  async function queueCount() {
    const { data } = await api("GET", "health", { allow: [503] });
    const dead = (data.checks || {}).deadLetters || {};
    const text = typeof dead.count === "number" ? `${dead.count} message(s) dead-lettered on the sync-jobs queue.`
      : `Dead-lettered messages on the sync-jobs queue: ${dead.note || "unknown"}.`;
    return h("p", { text });
  }

  async function loadDeadLetters(section) {
    const runId = lastRun();
    const heading = h("h2", { text: "Dead-lettered work" });
    const count = await queueCount().catch(() => null);
    if (!runId) {
      clear(section).append(heading, count,
        h("p", { text: "No full synchronization run yet in this session (start one on Full sync)." }));
      return;
    }
    const review = await window.BCS.fullSync.readReview(runId);
    const failed = review.lines.filter((line) => line.status === "failed");
    const replay = h("button", { type: "button", text: "Replay failed lines", disabled: !failed.length });
    replay.addEventListener("click", () => act(replay, async () => {
      await window.BCS.fullSync.restart(runId);
      await loadDeadLetters(section);
      announce(`Replaying ${failed.length} failed line(s) of run ${runId}; follow them on Full sync.`);
    }));
    const rows = failed.map((line) => h("tr", { "data-mapping": line.mapping },
      h("th", { scope: "row", text: line.mapping }),
      h("td", { text: `${line.chunks.done}/${line.chunks.total ?? "?"}` }),
      h("td", { text: counters(line.counters) }),
      h("td", {}, window.BCS.fullSync.lineErrors(line))));
    clear(section).append(heading, count,
      h("p", {}, `Run `, h("code", { text: runId }), ` is ${review.status}. A chunk that fails every delivery is dead-lettered and its line fails.`),
      failed.length
        ? table("Failed lines", ["Mapping", "Chunks done", "Counters", "Errors"], rows)
        : h("p", { class: "ok-text", text: "No failed lines: nothing dead-lettered in this run." }),
      h("div", { class: "actions" }, replay));
  }

  window.BCS.register({
    id: "jobs",
    title: "Jobs",
    render(main, params) {
      const select = mappingSelect({ value: params.get("mapping") || "CUSTOMER" });
      const jobs = h("section", { class: "panel", "aria-labelledby": "jobs-heading" });
      const dead = h("section", { class: "panel" });
      const showButton = h("button", { type: "submit", text: "Show jobs" });
      const form = h("form", { class: "inline", novalidate: true, on: {
        submit: (event) => { event.preventDefault(); act(showButton, () => loadJobs(jobs, select.value)); },
      } }, field("Mapping", select), showButton);
      select.addEventListener("change", () => loadJobs(jobs, select.value).catch(fail));
      select.addEventListener("mappings-loaded", () => act(showButton, () => loadJobs(jobs, select.value)), { once: true });
      main.append(h("section", { class: "panel" }, form), jobs, dead);
      loadDeadLetters(dead).catch(fail);
    },
  });
})();
