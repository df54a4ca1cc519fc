// The console's shared parts: the API client (the function key from the page's URL, sent as x-functions-key and kept
// in memory only), the company the console is on (issue 22: sent as `company` on every API call, remembered in the
// page's URL and in sessionStorage; `companies.js` offers the configured ones), safe DOM building (text is always set as text, never parsed as HTML), status messages for screen
// readers, and formatting. Every page script registers itself on window.BCS.
"use strict";

(function () {
  const query = new URLSearchParams(window.location.search);
  const key = query.get("code") || "";
  // The page is served at <prefix>/console: the API is <prefix>/... (routePrefix "api" in Azure and locally).
  const apiBase = window.location.pathname.replace(/\/+$/, "").replace(/\/console$/, "");
  const RUN_KEY = "bcSalesSync.lastRunId";
  const COMPANY_KEY = "bcSalesSync.company";
  // What the API takes as `company` (a company's key, or the primary's environment/company label); "" sends none
  // (one company configured: the API needs none, so a single-company console calls exactly as before).
  let company = query.get("company") || window.sessionStorage.getItem(COMPANY_KEY) || "";
  let mappingsPromise = null; // the mapping catalog, read once per company (`mappings`)

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field;
    }
  }

  const STATUS_MESSAGES = {
    401: "The function key was refused. Reopen the console with ?code=<function key>.",
    404: "Not found.",
    503: "A downstream service is throttling or unavailable; try again shortly.",
  };

  // The company the console is on ("" none), and switching it: remembered in sessionStorage and in the page's URL
  // (history.replaceState keeps the key and the page's hash), the mapping catalog read again (each company has its
  // own overrides), and a "bcs-company" event on document (the router shows the current page again).
  function currentCompany() {
    return company;
  }

  function setCompany(value, options = {}) {
    const changed = value !== company;
    company = value;
    if (value) window.sessionStorage.setItem(COMPANY_KEY, value);
    else window.sessionStorage.removeItem(COMPANY_KEY);
    const params = new URLSearchParams(window.location.search);
    if (value) params.set("company", value);
    else params.delete("company");
    const url = `${window.location.pathname}?${params.toString()}${window.location.hash}`;
    window.history.replaceState(window.history.state, "", url);
    mappingsPromise = null;
    if (changed && !options.quiet) document.dispatchEvent(new CustomEvent("bcs-company", { detail: value }));
  }

  // One call of the app's API. `allow` lists non-2xx statuses whose body is still an answer (health's 503);
  // `company: false` leaves the company out (a route about no company: the list of companies).
  async function api(method, path, options = {}) {
    const headers = { "x-functions-key": key, Accept: "application/json", ...(options.headers || {}) };
    const init = { method, headers, cache: "no-store" };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    let response;
    try {
      const named = company && options.company !== false
        ? `${path.includes("?") ? "&" : "?"}company=${encodeURIComponent(company)}` : "";
      response = await fetch(`${apiBase}/${path}${named}`, init);
    } catch (error) {
      throw new ApiError(0, "unreachable", "The app could not be reached. Is it running?");
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (error) {
        data = null;
      }
    }
    if (!response.ok && !(options.allow || []).includes(response.status)) {
      const detail = data && data.error ? data.error : {};
      const message = detail.message || STATUS_MESSAGES[response.status] || `HTTP ${response.status}`;
      throw new ApiError(response.status, detail.code || `http${response.status}`, message, detail.field);
    }
    return { status: response.status, data, headers: response.headers };
  }

  // h("p", {class: "x", on: {click: f}, "aria-label": "..."}, "text", node, [more]) builds an element.
  function h(tag, props, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "on") {
        for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
      } else if (name === "class") {
        element.className = value;
      } else if (name === "text") {
        element.textContent = value;
      } else if (name in element && typeof value !== "string") {
        element[name] = value;
      } else {
        element.setAttribute(name, value === true ? "" : String(value));
      }
    }
    append(element, children);
    return element;
  }

  function append(element, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  function clear(element) {
    element.replaceChildren();
    return element;
  }

  function announce(message) {
    document.getElementById("alert").textContent = "";
    const status = document.getElementById("status");
    status.textContent = "";
    window.setTimeout(() => { status.textContent = message; }, 30); // a change, so it is read again
  }

  function describe(error) {
    if (error instanceof ApiError) {
      const field = error.field ? `, field ${error.field}` : "";
      return error.status ? `${error.message} (${error.code}${field}; HTTP ${error.status})` : error.message;
    }
    return String(error && error.message ? error.message : error);
  }

  function fail(error) {
    document.getElementById("status").textContent = "";
    document.getElementById("alert").textContent = describe(error);
  }

  // Runs an action from a button: aria-busy while it runs, a second click meanwhile is ignored, errors go to the
  // alert region. `disabled` stays the page's to set (an action may disable its own button, e.g. no failed lines).
  async function act(button, action) {
    if (button.getAttribute("aria-busy") === "true") return undefined;
    button.setAttribute("aria-busy", "true");
    try {
      return await action();
    } catch (error) {
      fail(error);
      return undefined;
    } finally {
      button.removeAttribute("aria-busy");
    }
  }

  // A list that is loaded again when a control changes (mapping, page size, filter) shows only its newest load's
  // answer: `const current = newest();`, then in the load `const isNewest = current();` before the call and
  // `if (!isNewest()) return;` after it. A change made while a load is on its way starts another load at once (a
  // change is never run through act(), which would ignore it while the first load's button is busy), and the older
  // answer is dropped when it arrives (a CI run showed the 50-row page after the admin had chosen 10 rows).
  function newest() {
    let last = 0;
    return () => {
      last += 1;
      const mine = last;
      return () => mine === last;
    };
  }

  let idCounter = 0;
  function uid(prefix) {
    idCounter += 1;
    return `${prefix}-${idCounter}`;
  }

  // A labelled form control: field("Mapping", select) -> <div><label for=...>Mapping</label>select</div>
  function field(label, control, hint) {
    if (!control.id) control.id = uid("field");
    const hintNode = hint ? h("span", { class: "hint", id: `${control.id}-hint`, text: hint }) : null;
    if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
    return h("div", { class: "field" }, h("label", { for: control.id, text: label }), control, hintNode);
  }

  function table(caption, headers, rows, options = {}) {
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: options.class || null },
        h("caption", { class: options.hideCaption ? "visually-hidden" : null, text: caption }),
        h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col", text: name })))),
        h("tbody", {}, rows),
      ),
    );
  }

  function mappings(refresh) {
    if (refresh || !mappingsPromise) {
      mappingsPromise = api("GET", "mappings").then((answer) => answer.data.value);
      mappingsPromise.catch(() => { mappingsPromise = null; });
    }
    return mappingsPromise;
  }

  // A <select> of mapping names (filled when the catalog arrives); `all` adds "All mappings" with value "".
  function mappingSelect(options = {}) {
    const select = h("select", { name: "mapping" });
    if (options.all) select.append(h("option", { value: "", text: "All mappings" }));
    mappings().then((list) => {
      for (const mapping of list) {
        if (options.enabledOnly && !mapping.enabled) continue;
        select.append(h("option", { value: mapping.name, text: mapping.name }));
      }
      if (options.value !== undefined) select.value = options.value;
      select.dispatchEvent(new Event("mappings-loaded"));
    }, fail);
    return select;
  }

  const DIRECTIONS = {
    toDataverse: "Business Central → Sales",
    fromDataverse: "Sales → Business Central",
    bidirectional: "Both ways",
  };

  function direction(value) {
    return DIRECTIONS[value] || value || "";
  }

  function time(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
    if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
    if (seconds < 120) return `${seconds.toFixed(1)} s`;
    if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
    if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
    return `${Math.round(seconds / 86400)} days`;
  }

  function secondsBetween(start, end) {
    if (!start) return null;
    const to = end ? new Date(end) : new Date();
    return (to.getTime() - new Date(start).getTime()) / 1000;
  }

  function counters(values) {
    if (!values) return "";
    const shown = Object.entries(values).filter(([, count]) => count);
    return shown.length ? shown.map(([name, count]) => `${name} ${count}`).join(", ") : "nothing changed";
  }

  // A run is its company's (its runs table): each company remembers its own last run.
  function runKey() {
    return company ? `${RUN_KEY}.${company}` : RUN_KEY;
  }

  function lastRun() {
    return window.sessionStorage.getItem(runKey()) || "";
  }

  function rememberRun(runId) {
    window.sessionStorage.setItem(runKey(), runId);
  }

  window.BCS = {
    ApiError, api, h, append, clear, announce, fail, describe, act, uid, field, table, mappings, mappingSelect,
    direction, time, duration, secondsBetween, counters, lastRun, rememberRun, currentCompany, setCompany, newest, pages: [],
    register(page) { this.pages.push(page); },
  };
})();
