// Connection: BC's "Dynamics 365 Connection Setup" — each setup value with where it comes from (app setting, default
// or an override saved here), editable; a save sends only what changed, guarded by the etag (If-Match), so two admins
// saving at once cannot overwrite each other. Health of every dependency from GET /api/health.
"use strict";

(function () {
  const { api, h, clear, announce, fail, act, table } = window.BCS;

  const LABELS = {
    salesOrderIntegrationEnabled: "Sales order integration enabled",
    autoCreateSalesOrders: "Automatically create sales orders",
    autoProcessQuotes: "Automatically process sales quotes",
    writeInProductType: "Write-in product type",
    writeInProductNumber: "Write-in product number",
    bcCompany: "Business Central company",
    pageServices: "Page web services (one entity=ServiceName per line)",
  };
  const SOURCES = { appSetting: "App setting", default: "Default", override: "Override" };

  function control(name, value) {
    if (typeof value === "boolean") return h("input", { type: "checkbox", name, checked: value });
    if (name === "writeInProductType") {
      const select = h("select", { name }, ["Item", "Resource"].map((v) => h("option", { value: v, text: v })));
      select.value = value || "Item";
      return select;
    }
    if (name === "pageServices") {
      const lines = Object.entries(value || {}).map(([entity, service]) => `${entity}=${service}`);
      return h("textarea", { name, rows: 3, cols: 30, text: lines.join("\n") });
    }
    return h("input", { type: "text", name, value: value === null || value === undefined ? "" : String(value) });
  }

  function read(input) {
    if (input.type === "checkbox") return input.checked;
    if (input.name === "pageServices") {
      const result = {};
      for (const line of input.value.split("\n")) {
        const [entity, ...rest] = line.split("=");
        if (entity.trim() && rest.length) result[entity.trim()] = rest.join("=").trim();
      }
      return result;
    }
    return input.value;
  }

  async function renderSetup(section) {
    const { data } = await api("GET", "setup");
    const form = h("form", { class: "setup", "aria-labelledby": "setup-heading", novalidate: true });
    const inputs = {};
    const rows = Object.entries(data.values).map(([name, value]) => {
      const input = control(name, value);
      inputs[name] = input;
      const source = data.sources[name];
      const drop = source === "override"
        ? h("button", {
          type: "button", class: "secondary", text: "Drop override",
          "aria-label": `Drop the override of ${LABELS[name] || name}`,
          on: { click: (event) => act(event.currentTarget, () => save(section, { [name]: null }, data.etag)) },
        })
        : null;
      return h("tr", {},
        h("th", { scope: "row" }, h("label", { for: (input.id = `setup-${name}`), text: LABELS[name] || name })),
        h("td", {}, input),
        h("td", {}, h("span", { class: `badge source-${source}`, text: SOURCES[source] || source })),
        h("td", {}, drop));
    });
    const submit = h("button", { type: "submit", text: "Save setup" });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const changes = {};
      for (const [name, input] of Object.entries(inputs)) {
        const value = read(input);
        if (JSON.stringify(value) !== JSON.stringify(data.values[name] ?? (input.type === "checkbox" ? false : ""))) {
          changes[name] = value;
        }
      }
      if (!Object.keys(changes).length) {
        announce("Nothing to save: no value changed.");
        return;
      }
      act(submit, () => save(section, changes, data.etag));
    });
    form.append(
      table("Setup values", ["Setting", "Value", "Source", ""], rows),
      h("p", { class: "hint", text: "Saving a value stores an override; dropping it returns to the app setting or default." }),
      h("div", { class: "actions" }, submit),
    );
    clear(section).append(h("h2", { id: "setup-heading", text: "Connection setup" }), form);
  }

  async function save(section, changes, etag) {
    try {
      await api("PATCH", "setup", { body: changes, headers: etag ? { "If-Match": etag } : {} });
      await renderSetup(section);
      announce(`Setup saved: ${Object.keys(changes).map((n) => LABELS[n] || n).join(", ")}.`);
    } catch (error) {
      if (error.code === "etagMismatch") {
        await renderSetup(section);
        fail(new Error("Someone else saved the setup meanwhile: their values are shown now. Make your change again."));
        return;
      }
      throw error;
    }
  }

  function checkRows(checks) {
    return Object.entries(checks).map(([name, check]) => {
      const details = [];
      if (check.error) details.push(`error: ${check.error}`);
      if (check.note) details.push(check.note);
      if (typeof check.count === "number") details.push(`${check.count} dead-lettered`);
      if (check.apps) {
        for (const [app, state] of Object.entries(check.apps)) details.push(`${app}: ${state.ok ? "token ok" : state.error || "failing"}`);
      }
      if (check.mappings) {
        const stale = Object.entries(check.mappings).filter(([, m]) => m.stale).map(([m]) => m);
        details.push(stale.length ? `stale: ${stale.join(", ")}` : `${Object.keys(check.mappings).length} mappings, none stale`);
      }
      return h("tr", {},
        h("th", { scope: "row", text: name }),
        h("td", {}, h("span", { class: check.ok ? "badge ok" : "badge bad", text: check.ok ? "OK" : "Failing" })),
        h("td", { text: details.join("; ") }));
    });
  }

  async function renderHealth(section) {
    const { data } = await api("GET", "health", { allow: [503] });
    const healthy = data.status === "healthy";
    clear(section).append(
      h("h2", { text: "Health" }),
      h("p", {}, "The app is ", h("strong", { class: healthy ? "ok-text" : "bad-text", text: data.status }),
        data.version ? ` (version ${data.version})` : "", "."),
      table("Health checks", ["Check", "State", "Details"], checkRows(data.checks || {})),
    );
  }

  window.BCS.register({
    id: "connection",
    title: "Connection",
    render(main) {
      const setup = h("section", { class: "panel", "aria-busy": "true" }, h("p", { text: "Loading setup…" }));
      const health = h("section", { class: "panel", "aria-busy": "true" }, h("p", { text: "Checking health…" }));
      main.append(h("div", { class: "columns" }, setup, health));
      renderSetup(setup).catch(fail).finally(() => setup.removeAttribute("aria-busy"));
      renderHealth(health).catch(fail).finally(() => health.removeAttribute("aria-busy"));
    },
  });
})();
