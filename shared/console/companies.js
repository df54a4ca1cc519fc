// The company picker (issue 22): the BC companies this deployment serves (GET /api/companies), offered in the header
// when there are several. The chosen one is sent as `company` on every API call (core.js), kept in the page's URL
// (?company=..., so a copied link opens the same company) and in sessionStorage (a reload keeps it). Switching is an
// explicit "Switch" (a form: a select alone would reload the page's data on every arrow key), keeps the focus on the
// picker and shows the current page again for the new company. With one company nothing is shown and no `company`
// is sent: the console calls the API exactly as before companies existed.
"use strict";

(function () {
  const { api, h, clear, announce, currentCompany, setCompany } = window.BCS;

  // The configured company `value` names, as the API resolves `company`: its parameter or key, its
  // environment/company label or its name (ignoring case; a name configured twice names none).
  function find(list, value) {
    if (!value) return null;
    const folded = value.toLowerCase();
    const byName = list.filter((c) => c.company.toLowerCase() === folded);
    return list.find((c) => c.parameter === value || (c.key && c.key === value))
      || list.find((c) => c.label.toLowerCase() === folded)
      || (byName.length === 1 ? byName[0] : null);
  }

  function picker(list, chosen) {
    const select = h("select", { id: "company-select", name: "company" },
      list.map((c) => h("option", { value: c.parameter, text: c.label })));
    select.value = chosen.parameter;
    const button = h("button", { type: "submit", class: "secondary", text: "Switch" });
    const form = h("form", { class: "company-picker", "aria-label": "Choose a company", novalidate: true },
      h("label", { for: select.id, text: "Company" }), select, button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const next = list.find((c) => c.parameter === select.value);
      if (!next) return;
      if (next.parameter === currentCompany()) {
        announce(`Already showing ${next.label}.`);
        return;
      }
      window.BCS.companyLabel = next.label;
      setCompany(next.parameter); // the router shows the current page again (the "bcs-company" event)
      announce(`Showing company ${next.label}.`);
    });
    return form;
  }

  // Reads the companies and settles the one the console is on; resolves with an Error to show once the first page
  // is rendered (the router clears the alert region when it renders), or null.
  async function load() {
    let list;
    try {
      list = (await api("GET", "companies", { company: false })).data.value;
    } catch (error) {
      return error;
    }
    const wanted = currentCompany();
    const found = find(list, wanted);
    if (list.length <= 1) {
      setCompany("", { quiet: true });
      return wanted && !found ? new Error(`No company '${wanted}' is configured: showing the only one.`) : null;
    }
    const chosen = found || list[0];
    window.BCS.companyLabel = chosen.label;
    setCompany(chosen.parameter, { quiet: true });
    const slot = document.getElementById("company");
    clear(slot).append(picker(list, chosen));
    slot.hidden = false;
    return wanted && !found ? new Error(`No company '${wanted}' is configured: showing ${chosen.label}.`) : null;
  }

  window.BCS.companiesReady = load();
})();
