// The router: one page per hash route (#/connection, #/mappings, ...; #/couplings?mapping=CUSTOMER&bcId=... links
// straight to a record). Changing page stops the previous page's work (the full-sync polling), marks the current
// tab with aria-current and moves focus to the new page's heading so keyboard and screen-reader users follow (not on
// the first load: there the document starts at the top, with the skip link first). The first page waits for the
// company picker to settle the company (companies.js); switching company shows the current page again, for it.
"use strict";

(function () {
  const { h, clear, fail } = window.BCS;
  const DEFAULT = "connection";
  let cleanup = null;

  function route(event) {
    const hash = window.location.hash;
    if (event && !hash.startsWith("#/")) return; // an in-page link, not a page change
    const [path, query] = (hash.startsWith("#/") ? hash.slice(2) : DEFAULT).split("?");
    const page = window.BCS.pages.find((p) => p.id === path) || window.BCS.pages.find((p) => p.id === DEFAULT);
    if (cleanup) cleanup();
    cleanup = null;
    for (const link of document.querySelectorAll("#nav a")) {
      if (link.getAttribute("href") === `#/${page.id}`) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const company = window.BCS.companyLabel ? ` · ${window.BCS.companyLabel}` : ""; // several: the one shown
    document.title = `${page.title}${company} · bc-sales-sync admin console`;
    document.getElementById("alert").textContent = "";
    const main = clear(document.getElementById("main"));
    const heading = h("h1", { tabindex: "-1", text: page.title });
    main.append(heading);
    try {
      cleanup = page.render(main, new URLSearchParams(query || "")) || null;
    } catch (error) {
      fail(error);
    }
    if (event) heading.focus();
  }

  window.addEventListener("hashchange", route);
  // The skip link moves focus to the content without touching the hash (the hash is the page's route).
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main").focus();
  });
  window.addEventListener("unhandledrejection", (event) => {
    fail(event.reason); // shown to the admin; an API answer is not a bug, anything else stays in the browser console
    if (event.reason instanceof window.BCS.ApiError) event.preventDefault();
  });
  document.addEventListener("bcs-company", () => route()); // the focus stays on the picker
  (window.BCS.companiesReady || Promise.resolve(null)).then((problem) => {
    route();
    if (problem) fail(problem);
  });
})();
