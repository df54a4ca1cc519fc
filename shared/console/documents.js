// Sales documents: BC's Sales document actions in one page, each list read a page at a time from the server
// (GET /api/sales-orders, /api/quotes, /api/posted-sales-invoices with top and continuationToken):
// - Sales orders submitted in Sales, with "Create in Business Central"; a created one shows its BC order number, a
//   refused one the reason kept in its sync error entry, one whose customer is another company's is not created here.
// - Quotes (every revision) with their state and "Process in Business Central".
// - Posted sales invoices with their status in Sales and "Create Invoice in Sales".
// - A customer's account statistics as Sales has them, and "Update Account Statistics" (which also brings the
//   payment status of the customer's coupled invoices up to date).
"use strict";

(function () {
  const { api, h, clear, announce, fail, act, field, table, ApiError } = window.BCS;
  const TOP = 20; // rows per page; #/documents?top=<n> (1..1000) asks for another size
  let top = TOP;

  function money(value) {
    if (value === null || value === undefined) return "";
    return Number(value).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function reason(error) {
    if (!error) return null;
    return h("span", { class: "reason" }, h("span", { class: "badge bad", text: error.skipped ? "refused, skipped" : "refused" }),
      " ", error.message);
  }

  // A list read a page at a time: `read(token)` answers {value, continuationToken}; `render(rows)` fills the section.
  // Previous page goes back through the tokens this list answered (the server keeps nothing between calls).
  function pagedList(section, read, render, label) {
    const tokens = [null];
    let index = 0;
    let answer = null;
    const previous = h("button", { type: "button", class: "secondary", text: "Previous page", "aria-label": `Previous page of ${label}` });
    const next = h("button", { type: "button", class: "secondary", text: "Next page", "aria-label": `Next page of ${label}` });
    const refresh = h("button", { type: "button", class: "secondary", text: "Refresh", "aria-label": `Refresh ${label}` });
    const body = h("div", { class: "list-body" });
    const pager = h("div", { class: "actions pager" }, previous, next, refresh);

    const loads = window.BCS.newest();
    async function load() {
      const isNewest = loads();
      const page = await read(tokens[index]);
      if (!isNewest()) return; // a newer load (another filter) answers instead
      answer = page;
      render(body, answer.value, load);
      previous.disabled = index === 0;
      next.disabled = !answer.continuationToken;
    }
    previous.addEventListener("click", () => act(previous, async () => {
      index -= 1;
      await load();
      announce(`Page ${index + 1} of ${label}.`);
    }));
    next.addEventListener("click", () => act(next, async () => {
      if (!answer || !answer.continuationToken) return;
      tokens.length = index + 1;
      tokens.push(answer.continuationToken);
      index += 1;
      await load();
      announce(`Page ${index + 1} of ${label}.`);
    }));
    refresh.addEventListener("click", () => act(refresh, async () => {
      await load();
      announce(`${label} read again.`);
    }));
    section.append(body, pager);
    return {
      load,
      restart() { tokens.length = 1; index = 0; return load(); },
    };
  }

  function query(path, token, extra = {}) {
    const params = new URLSearchParams({ top: String(top), ...extra });
    if (token) params.set("continuationToken", token);
    return api("GET", `${path}?${params.toString()}`).then((answer) => answer.data);
  }

  // -- Sales orders ------------------------------------------------------------------------------------------------
  function orderOutcome(order) {
    if (order.bcOrder) {
      return h("span", {}, "Business Central order ", h("strong", { class: "bc-number", text: order.bcOrder.number || order.bcOrder.id }));
    }
    if (order.outcome === "anotherCompany") return h("span", { text: "Its customer is another company's: not created here." });
    if (order.outcome === "notSubmitted") return h("span", { class: "muted", text: `${order.state}: not submitted.` });
    return reason(order.error) || h("span", { text: "Ready to create." });
  }

  function orderRow(order, onCreated) {
    const label = [order.orderNumber || order.dataverseId, order.name ? `(${order.name})` : null].filter(Boolean).join(" ");
    const cells = [
      h("th", { scope: "row", text: order.orderNumber || "" }),
      h("td", { text: order.name || "" }),
      h("td", { text: (order.customer && (order.customer.name || order.customer.id)) || "" }),
      h("td", { class: "number", text: money(order.totalAmount) }),
      h("td", { text: `${order.state} (${order.status})` }),
      h("td", { class: "outcome", tabindex: "-1" }, orderOutcome(order)),
    ];
    const action = h("td", {});
    if (order.canCreate) {
      const button = h("button", { type: "button", text: "Create in Business Central", "aria-label": `Create in Business Central: order ${label}` });
      button.addEventListener("click", () => act(button, async () => {
        try {
          const { data } = await api("POST", `sales-orders/${encodeURIComponent(order.dataverseId)}/create-in-business-central`);
          onCreated({ ...order, outcome: "created", canCreate: false, error: null, bcOrder: { id: data.bcId, number: data.bcNumber } });
          announce(`Sales order ${label} is Business Central order ${data.bcNumber}.`);
        } catch (error) {
          if (error instanceof ApiError && error.status === 422) {
            onCreated({ ...order, outcome: "refused", error: { code: error.code, message: error.message, skipped: false } });
          }
          throw error;
        }
      }));
      action.append(button);
    }
    return h("tr", { "data-id": order.dataverseId }, cells, action);
  }

  function renderOrders(body, orders) {
    if (!orders.length) {
      clear(body).append(h("p", { text: "No Sales orders to show." }));
      return;
    }
    const rows = orders.map(function build(order) {
      const row = orderRow(order, (changed) => {
        const fresh = build(changed);
        row.replaceWith(fresh);
        fresh.querySelector(".outcome").focus(); // where the BC order number (or the reason) now is
      });
      return row;
    });
    clear(body).append(table("Sales orders", ["Order", "Name", "Customer", "Total", "Status", "Business Central", "Action"],
      rows, { class: "document-list order-list", hideCaption: true }));
  }

  function ordersSection() {
    const section = h("section", { class: "panel documents-orders", "aria-labelledby": "orders-heading" },
      h("h2", { id: "orders-heading", text: "Sales orders" }),
      h("p", { class: "hint", text: "Orders submitted in Sales. Create in Business Central makes the BC order (once); a refused order shows why." }));
    const pending = h("input", { type: "checkbox", name: "pending", id: "orders-pending" });
    const filter = h("div", { class: "choice" }, pending, h("label", { for: pending.id, text: "Only orders not yet sent to Business Central" }));
    section.append(filter);
    const list = pagedList(section, (token) => query("sales-orders", token, pending.checked ? { pending: "true" } : {}),
      renderOrders, "Sales orders");
    pending.addEventListener("change", () => list.restart().catch(fail));
    return { section, list };
  }

  // -- quotes --------------------------------------------------------------------------------------------------------
  const QUOTE_OUTCOMES = {
    processed: "Processed",
    waitingForOrder: "Won: waiting for a submitted Sales order",
    converted: "Won: converted to a Business Central order",
    ready: "Ready to process",
    notActive: "Nothing to process (draft or closed)",
    anotherCompany: "Its customer is another company's: not processed here",
  };

  function quoteRow(quote, reload) {
    const label = `${quote.quoteNumber || quote.dataverseId} revision ${quote.revisionNumber}`;
    const bc = quote.bcQuote ? h("span", {}, "Business Central quote ", h("strong", { class: "bc-number", text: quote.bcQuote.number || quote.bcQuote.id })) : null;
    const action = h("td", {});
    if (quote.canProcess) {
      const button = h("button", { type: "button", text: "Process in Business Central", "aria-label": `Process in Business Central: quote ${label}` });
      button.addEventListener("click", () => act(button, async () => {
        try {
          const { data } = await api("POST", `quotes/${encodeURIComponent(quote.dataverseId)}/process`);
          await reload();
          announce(`Quote ${label}: ${data.status}${data.won ? `, won: ${data.won}` : ""}.`);
        } catch (error) {
          if (error instanceof ApiError && error.status === 422) await reload();
          throw error;
        }
      }));
      action.append(button);
    }
    return h("tr", { "data-id": quote.dataverseId },
      h("th", { scope: "row", text: quote.quoteNumber || "" }),
      h("td", { class: "number", text: String(quote.revisionNumber) }),
      h("td", { text: quote.name || "" }),
      h("td", { text: (quote.customer && (quote.customer.name || quote.customer.id)) || "" }),
      h("td", { class: "number", text: money(quote.totalAmount) }),
      h("td", { text: `${quote.state} (${quote.status})` }),
      h("td", { class: "outcome" }, bc, bc ? h("br") : null, reason(quote.error) || QUOTE_OUTCOMES[quote.outcome] || quote.outcome),
      action);
  }

  function quotesSection() {
    const section = h("section", { class: "panel documents-quotes", "aria-labelledby": "quotes-heading" },
      h("h2", { id: "quotes-heading", text: "Quotes" }),
      h("p", { class: "hint", text: "Every revision of every quote. Process in Business Central creates or revises the BC quote of an active quote, or converts a won one." }));
    const state = h("select", { name: "state" }, ["", "Draft", "Active", "Won", "Closed"].map((value) => h("option", { value, text: value || "All states" })));
    section.append(field("State", state));
    const list = pagedList(section, (token) => query("quotes", token, state.value ? { state: state.value } : {}),
      (body, quotes, reload) => {
        clear(body).append(quotes.length
          ? table("Quotes", ["Quote", "Revision", "Name", "Customer", "Total", "State", "Business Central", "Action"],
            quotes.map((quote) => quoteRow(quote, reload)), { class: "document-list quote-list", hideCaption: true })
          : h("p", { text: "No quotes to show." }));
      }, "Quotes");
    state.addEventListener("change", () => list.restart().catch(fail));
    return { section, list };
  }

  // -- posted sales invoices -------------------------------------------------------------------------------------
  function invoiceRow(invoice, reload) {
    const action = h("td", {});
    if (invoice.canCreate) {
      const button = h("button", { type: "button", text: "Create Invoice in Sales", "aria-label": `Create Invoice in Sales: invoice ${invoice.number}` });
      button.addEventListener("click", () => act(button, async () => {
        try {
          const { data } = await api("POST", `posted-sales-invoices/${encodeURIComponent(invoice.bcId)}/create-in-dataverse`);
          await reload();
          announce(`Invoice ${invoice.number} ${data.status === "created" ? "created" : "was already"} in Sales.`);
        } catch (error) {
          if (error instanceof ApiError && error.status === 422) await reload();
          throw error;
        }
      }));
      action.append(button);
    } else if (!invoice.salesInvoice && !invoice.customer.coupled) {
      action.append(h("span", { class: "muted", text: "Customer not coupled" }));
    }
    const behind = invoice.salesInvoice && invoice.paymentStatus !== invoice.salesStatus
      ? h("span", { class: "hint", text: ` (Business Central: ${invoice.paymentStatus}; Update Account Statistics brings it over)` }) : null;
    return h("tr", { "data-id": invoice.bcId },
      h("th", { scope: "row", text: invoice.number || "" }),
      h("td", { text: `${invoice.customer.number || ""} ${invoice.customer.name || ""}`.trim() }),
      h("td", { class: "nowrap", text: invoice.invoiceDate || "" }),
      h("td", { class: "number", text: `${money(invoice.totalAmountIncludingTax)}${invoice.currencyCode ? ` ${invoice.currencyCode}` : ""}` }),
      h("td", { class: "number", text: money(invoice.remainingAmount) }),
      h("td", { class: "sales-status" }, h("span", { class: "status-text", text: invoice.salesStatus }), behind, invoice.error ? h("br") : null, reason(invoice.error)),
      action);
  }

  function invoicesSection() {
    const section = h("section", { class: "panel documents-invoices", "aria-labelledby": "invoices-heading" },
      h("h2", { id: "invoices-heading", text: "Posted sales invoices" }),
      h("p", { class: "hint", text: "Business Central's posted invoices and their status in Sales. Create Invoice in Sales makes the Sales invoice (once)." }));
    const list = pagedList(section, (token) => query("posted-sales-invoices", token), (body, invoices, reload) => {
      clear(body).append(invoices.length
        ? table("Posted sales invoices", ["Invoice", "Customer", "Date", "Amount", "Remaining", "Sales status", "Action"],
          invoices.map((invoice) => invoiceRow(invoice, reload)), { class: "document-list invoice-list", hideCaption: true })
        : h("p", { text: "No posted sales invoices." }));
    }, "Posted sales invoices");
    return { section, list };
  }

  // -- customer statistics -------------------------------------------------------------------------------------------
  const FIGURES = [
    ["nav_balancelcy", "Balance"], ["nav_outstandingorderslcy", "Outstanding orders"],
    ["nav_shippednotinvoicedlcy", "Shipped not invoiced"], ["nav_outstandinginvoiceslcy", "Outstanding invoices"],
    ["nav_overdueamountslcy", "Overdue amounts"], ["nav_overdueamountsasof", "Overdue as of"],
    ["nav_totalsaleslcy", "Total sales"], ["nav_creditlimitlcy", "Credit limit"], ["nav_totallcy", "Total"],
  ];

  function figure(values, name) {
    const value = values[name];
    if (value === null || value === undefined) return "-- (not in API v2.0)";
    return typeof value === "number" ? money(value) : String(value);
  }

  function statisticsView(result, data, note, reread) {
    const heading = h("h3", { text: `${data.number} ${data.name || ""}`.trim() });
    if (!data.coupled) {
      clear(result).append(heading, h("p", { text: "Not coupled to a Sales account: couple the customer first (Couplings)." }));
      return;
    }
    const facts = data.values
      ? h("dl", { class: "facts statistics" }, FIGURES.flatMap(([name, label]) => [h("dt", { text: label }), h("dd", { text: figure(data.values, name) })]))
      : h("p", { text: "No account statistics in Sales yet." });
    const update = h("button", { type: "button", text: "Update Account Statistics" });
    update.addEventListener("click", () => act(update, async () => {
      const { data: done } = await api("POST", `customers/${encodeURIComponent(data.bcId)}/update-statistics`);
      const invoices = `${done.invoices.statusChanged} of ${done.invoices.coupled} coupled invoice(s) got a new payment status`
        + (done.invoices.failed ? `; ${done.invoices.failed} refused: ${done.invoices.errors.join("; ")}` : "") + ".";
      await reread(h("p", { class: "invoices", text: `Account statistics ${done.outcome}; ${invoices}` }));
      announce(`Account statistics of ${data.number} ${done.outcome}; ${invoices}`);
      result.querySelector("button").focus();
    }));
    clear(result).append(heading,
      h("p", { text: `Account: ${data.accountName || data.accountId}${data.skipped ? " (coupling skipped)" : ""}` }),
      facts, note || null, h("div", { class: "actions" }, update));
  }

  function statisticsSection() {
    const section = h("section", { class: "panel documents-statistics", "aria-labelledby": "statistics-heading" },
      h("h2", { id: "statistics-heading", text: "Customer statistics" }),
      h("p", { class: "hint", text: "A customer's account statistics as Sales has them. Update Account Statistics writes them from Business Central and updates the payment status of the customer's invoices in Sales." }));
    const number = h("input", { type: "text", name: "customer", autocomplete: "off", maxlength: "36", required: true });
    const show = h("button", { type: "submit", text: "Show statistics" });
    const result = h("div", { class: "result", "aria-live": "polite" });
    async function read(note) {
      const customer = number.value.trim();
      if (!customer) throw new Error("Enter a customer number (for example C00010).");
      const { data } = await api("GET", `customers/${encodeURIComponent(customer)}/statistics`);
      statisticsView(result, data, note, read);
      return data;
    }
    const form = h("form", { class: "inline", novalidate: true, on: {
      submit: (event) => {
        event.preventDefault();
        act(show, async () => {
          const data = await read(null);
          announce(`Statistics of customer ${data.number}: ${data.values ? "shown" : data.coupled ? "none in Sales yet" : "not coupled"}.`);
        });
      },
    } }, field("Customer number", number, "BC's customer No., e.g. C00010"), show);
    section.append(form, result);
    return { section };
  }

  window.BCS.register({
    id: "documents",
    title: "Sales documents",
    render(main, params) {
      const asked = Number.parseInt(params.get("top") || "", 10);
      top = asked >= 1 && asked <= 1000 ? asked : TOP;
      const orders = ordersSection();
      const quotesPart = quotesSection();
      const invoices = invoicesSection();
      const statistics = statisticsSection();
      main.append(
        h("nav", { class: "in-page", "aria-label": "Sales documents sections" }, h("ul", {},
          [["orders-heading", "Sales orders"], ["quotes-heading", "Quotes"], ["invoices-heading", "Posted sales invoices"],
            ["statistics-heading", "Customer statistics"]].map(([id, text]) => h("li", {}, h("a", { href: `#${id}`, text,
            on: { click: (event) => { event.preventDefault(); const target = document.getElementById(id); target.setAttribute("tabindex", "-1"); target.focus(); } } }))))),
        orders.section, quotesPart.section, invoices.section, statistics.section);
      for (const part of [orders, quotesPart, invoices]) part.list.load().catch(fail);
    },
  });
})();
