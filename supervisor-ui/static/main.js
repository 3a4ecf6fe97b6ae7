// Switchboard's web application: sign-in and the page router. Each page is its own module
// (`workspace.js`, `grid.js`, `dashboard.js`, `history.js`, `voicemail.js`, `customer.js`); `lib.js` is the shared layer and `phone.js` the softphone, which
// stays connected while the agent moves between pages.
import { $, api, atLeast, session } from "./lib.js";
import { grid } from "./grid.js";
import { history } from "./history.js";
import { voicemail } from "./voicemail.js";
import { customerPage } from "./customer.js";
import { phone } from "./phone.js";
import { workspace } from "./workspace.js";
import { overrideRequests } from "./override.js";
import { dashboard } from "./dashboard.js";
import { admin } from "./admin.js";

const PAGES = ["login", "home", "forbidden", "grid-page", "queues-page", "workspace-page", "calls-page", "voicemail-page", "customer-page", "admin-page"];

function showOnly(id) {
  for (const s of PAGES) $(s).hidden = s !== id;
}

async function route() {
  if (!session.me) {
    try {
      session.me = await api("GET", "/api/me");
    } catch {
      session.me = null;
    }
  }
  const me = session.me;
  $("nav").hidden = !me;
  $("logout").hidden = !me;
  $("who").textContent = me ? `${me.name} · ${me.role}` : "";
  if (!me) {
    grid.stop();
    dashboard.stop();
    workspace.stop();
    phone.stop();
    voicemail.stop();
    overrideRequests.stop();
    return showOnly("login");
  }
  $("nav-grid").hidden = !atLeast("supervisor");
  $("nav-queues").hidden = !atLeast("supervisor");
  $("nav-admin").hidden = !atLeast("admin");
  $("nav-workspace").hidden = !me.agent_extension;
  // The phone rings wherever the agent is in the app. Supervisors without an extension get a
  // personal line for listening in and taking over.
  if (me.agent_extension || atLeast("supervisor")) phone.start();
  // Supervisors see agents' override requests wherever they are in the app.
  overrideRequests.start();
  const page = location.hash.replace(/^#/, "").split("?")[0] || (me.agent_extension ? "/workspace" : "/");
  for (const a of document.querySelectorAll("header nav a")) {
    const href = a.getAttribute("href");
    a.classList.toggle("active", href === "#" + page || (href === "#/admin" && page.startsWith("/admin/")));
  }
  // The workspace's status refresh runs only while it is shown (the phone keeps ringing and
  // renewing on every page).
  if (page !== "/workspace") workspace.stop();
  if (page === "/admin" || page.startsWith("/admin/")) {
    if (!atLeast("admin")) return showOnly("forbidden");
    showOnly("admin-page");
    return admin.show(page);
  }
  if (page !== "/grid") grid.stop();
  if (page !== "/queues") dashboard.stop();
  if (page === "/queues") {
    if (!atLeast("supervisor")) return showOnly("forbidden");
    showOnly("queues-page");
    return dashboard.start();
  }
  if (page === "/grid") {
    if (!atLeast("supervisor")) return showOnly("forbidden");
    showOnly("grid-page");
    return grid.start();
  }
  voicemail.watch();
  if (page === "/voicemail") {
    showOnly("voicemail-page");
    return voicemail.start();
  }
  const customer = page.match(/^\/customers\/(\d+)$/);
  if (customer) {
    showOnly("customer-page");
    return customerPage.start(customer[1]);
  }
  if (page === "/calls") {
    showOnly("calls-page");
    return history.start();
  }
  if (page === "/workspace") {
    showOnly("workspace-page");
    return workspace.start();
  }
  showOnly("home");
  $("me-name").textContent = me.name;
  $("me-role").textContent = me.role;
  $("home-grid-link").hidden = !atLeast("supervisor");
  try {
    const account = await api("GET", "/api/account");
    $("account-name").textContent = account.settings.name;
  } catch {
    $("account-name").textContent = "";
  }
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  try {
    await api("POST", "/api/auth/login", { email: form.get("email"), password: form.get("password") });
    $("login-error").textContent = "";
    session.me = null;
    await route();
  } catch (e) {
    $("login-error").textContent = e.message;
  }
});

$("logout").addEventListener("click", async () => {
  await api("POST", "/api/auth/logout");
  session.me = null;
  await route();
});

window.addEventListener("hashchange", route);
route();
