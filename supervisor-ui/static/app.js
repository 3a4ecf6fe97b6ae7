"use strict";
const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw Object.assign(new Error((data && data.error) || res.statusText), { status: res.status });
  return data;
}

async function show() {
  try {
    const me = await api("GET", "/api/me");
    const account = await api("GET", "/api/account");
    $("me-name").textContent = me.name;
    $("me-role").textContent = me.role;
    $("who").textContent = me.name;
    $("account-name").textContent = account.settings.name;
    $("login").hidden = true;
    $("home").hidden = false;
  } catch (e) {
    $("home").hidden = true;
    $("login").hidden = false;
    $("who").textContent = "";
  }
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  try {
    await api("POST", "/api/auth/login", { email: form.get("email"), password: form.get("password") });
    $("login-error").textContent = "";
    await show();
  } catch (e) {
    $("login-error").textContent = e.message;
  }
});

$("logout").addEventListener("click", async () => {
  await api("POST", "/api/auth/logout");
  await show();
});

show();
