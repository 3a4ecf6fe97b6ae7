// API tokens (owners): what the merchant's systems use instead of a person's session. A new
// token's secret is shown once, with a button to copy it; revoking asks to be pressed twice.
import { $, api, el } from "./lib.js";
import { humanize } from "./form.js";

const when = (ms) => (ms ? new Date(ms).toLocaleString() : "never");

export async function tokensPage() {
  const main = $("admin-main");
  const tokens = await api("GET", "/api/tokens");
  const name = el("input", { type: "text", id: "token-name", placeholder: "e.g. Order system", autocomplete: "off" });
  const role = el("select", { id: "token-role" }, ...["agent", "supervisor", "admin", "owner"].map((r) =>
    el("option", { value: r, selected: r === "admin" }, humanize(r))));
  const made = el("div", { id: "token-made", role: "status" });
  const problems = el("p", { class: "error", id: "token-error", role: "alert" });
  const form = el("form", { class: "token-new" },
    el("label", {}, el("span", { class: "label" }, "Name"), name),
    el("label", {}, el("span", { class: "label" }, "Acts as"), role),
    el("button", { type: "submit", id: "token-create" }, "Create token"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    problems.textContent = "";
    try {
      const t = await api("POST", "/api/tokens", { name: name.value, role: role.value });
      const secret = el("code", { id: "token-secret" }, t.token);
      const copy = el("button", { type: "button", class: "ghost small", onclick: async () => {
        try { await navigator.clipboard.writeText(t.token); copy.textContent = "Copied"; } catch { copy.textContent = "Select and copy it"; }
      } }, "Copy");
      await tokensPage();
      $("token-made").replaceChildren(el("div", { class: "token-secret" },
        el("strong", {}, `“${t.name}” created. `), "Copy it now: it is not shown again. Send it as ",
        el("code", {}, "Authorization: Bearer …"), ".", el("div", {}, secret, copy)));
    } catch (e) {
      problems.textContent = e.problems && e.problems.length ? e.problems.map((p) => `${humanize(p.path)}: ${p.message}`).join("; ") : e.message;
    }
  });
  const rows = tokens.map((t) => {
    let armed = false;
    const revoke = el("button", { type: "button", class: "danger small", "data-revoke": t.name, onclick: async () => {
      if (!armed) {
        armed = true;
        revoke.textContent = "Really revoke?";
        return;
      }
      await api("DELETE", `/api/tokens/${t.id}`);
      await tokensPage();
    } }, "Revoke");
    return el("tr", { "data-key": t.name }, el("td", {}, t.name), el("td", {}, humanize(t.role)),
      el("td", { class: "sub" }, `created ${when(t.created_at)} · last used ${when(t.last_used_at)}`), el("td", {}, revoke));
  });
  main.replaceChildren(
    el("div", { class: "calls-head" }, el("h2", {}, "API tokens")),
    el("p", { class: "sub" }, "For the merchant's own systems (order entry, CRM): each token acts with the role it is given."),
    form, problems, made,
    rows.length ? el("table", { class: "admin-list" }, el("tbody", {}, ...rows)) : el("p", { class: "empty" }, "No tokens yet."));
}
