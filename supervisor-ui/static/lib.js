// The web app's shared layer: element lookup and building, the JSON API, who is signed in.

export const $ = (id) => document.getElementById(id);
export const ROLES = ["agent", "supervisor", "admin", "owner"];

/** The signed-in user (`/api/me`), or null. */
export const session = { me: null };

export const atLeast = (role) => session.me && ROLES.indexOf(session.me.role) >= ROLES.indexOf(role);

export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  if (!res.ok) {
    const problems = (data && data.problems) || [];
    throw Object.assign(new Error((data && data.error) || res.statusText), { status: res.status, problems });
  }
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

/** m:ss since a unix-ms time. */
export function since(ms) {
  const s = Math.max(0, Math.floor((Date.now() - ms) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
