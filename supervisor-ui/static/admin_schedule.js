// The schedule editor (admin pages): business hours as a week — each day open or closed, with
// one or more opening periods (a lunch break is two) and a bar showing the day at a glance —,
// holidays with a date picker, the time zone, and where calls go when open, closed or on a
// holiday. Beside it, "what happens now": the server reads the schedule as edited with the
// routing code's own rules (open or closed, where a call goes, when that changes next).
// Same contract as `form.js` editors: `node`, `get()`, `mark(segments, message)`.
import { api, el } from "./lib.js";
import { editor, resolve } from "./form.js";

const DAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"], ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"]];

/** A labelled row that can show a problem, as the generated forms have. */
export function row(field, label, control, hint) {
  return el("div", { class: "form-row", "data-field": field },
    el("label", {}, el("span", { class: "label" }, label), control),
    hint ? el("span", { class: "hint" }, hint) : null,
    el("span", { class: "field-error", role: "alert" }));
}

/** Puts `message` at a row (returns false when there is none). */
export function markRow(row, message) {
  if (!row) return false;
  row.classList.add("has-error");
  row.querySelector(":scope > .field-error").textContent = message;
  return true;
}

const minutes = (hhmm) => {
  const [h, m] = (hhmm || "").split(":").map(Number);
  return Number.isFinite(h) && Number.isFinite(m) ? h * 60 + m : null;
};

function describeTarget(t) {
  if (!t) return "nowhere";
  if (t.type === "external") return `outside number ${t.number}`;
  if (t.type === "hangup") return "hang up";
  return `${t.type.replaceAll("_", " ")} ${t.name || t.extension || ""}`.trim();
}

/** One day: open or closed, its periods, and a 24-hour bar. */
function dayRow(day, label, periods) {
  const list = el("div", { class: "periods" });
  const bar = el("div", { class: "day-bar", title: "00:00 to 24:00" });
  const open = el("input", { type: "checkbox", checked: periods.length > 0, "data-day": day });
  const entries = [];
  const redraw = () => {
    bar.replaceChildren(...entries.map((e) => {
      const [a, b] = [minutes(e.open.value), minutes(e.close.value)];
      if (a === null || b === null || b <= a) return null;
      return el("span", { style: `left:${(a / 1440) * 100}%;width:${((b - a) / 1440) * 100}%` });
    }).filter(Boolean));
    addButton.hidden = !open.checked;
    list.hidden = !open.checked;
  };
  const add = (p) => {
    const entry = {
      open: el("input", { type: "time", value: p.open, "data-part": "open", oninput: () => redraw() }),
      close: el("input", { type: "time", value: p.close, "data-part": "close", oninput: () => redraw() }),
      node: null,
      error: el("span", { class: "field-error", role: "alert" }),
    };
    const remove = el("button", { type: "button", class: "ghost small", title: "Remove these hours", onclick: () => {
      entries.splice(entries.indexOf(entry), 1);
      entry.node.remove();
      if (!entries.length) open.checked = false;
      redraw();
    } }, "×");
    entry.node = el("span", { class: "period" }, entry.open, "–", entry.close, remove, entry.error);
    // A problem shown here goes once the hours are changed.
    entry.node.addEventListener("input", () => {
      entry.node.classList.remove("has-error");
      entry.error.textContent = "";
      for (const i of [entry.open, entry.close]) i.classList.remove("invalid");
    });
    entries.push(entry);
    list.append(entry.node);
  };
  const addButton = el("button", { type: "button", class: "ghost small", onclick: () => {
    const last = entries[entries.length - 1];
    add(last ? { open: last.close.value, close: "" } : { open: "09:00", close: "17:00" });
    redraw();
  } }, "Add hours");
  open.addEventListener("change", () => {
    if (open.checked && !entries.length) add({ open: "09:00", close: "17:00" });
    redraw();
  });
  for (const p of periods) add(p);
  redraw();
  const node = el("div", { class: "day", "data-day": day },
    el("label", { class: "day-name" }, open, ` ${label}`),
    el("div", { class: "day-hours" }, list, addButton,
      el("span", { class: "closed-word" }, "Closed")),
    bar);
  const update = () => node.classList.toggle("closed", !open.checked);
  open.addEventListener("change", update);
  update();
  return {
    day, node, entries,
    periods: () => (open.checked ? entries.map((e) => ({ open: e.open.value, close: e.close.value })) : []),
  };
}

export function scheduleEditor(root, stored) {
  const s = resolve(root, root.Schedule);
  const value = { time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone, weekly: [], holidays: [], ...stored };
  const name = el("input", { type: "text", value: value.name || "", "data-path": "name", autocomplete: "off" });
  const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
  if (!zones.includes(value.time_zone)) zones.unshift(value.time_zone);
  const zone = el("select", { "data-path": "time_zone" }, ...zones.map((z) => el("option", { value: z, selected: z === value.time_zone }, z)));

  // The week: each stored period is put on each of its days.
  const byDay = Object.fromEntries(DAYS.map(([d]) => [d, []]));
  for (const h of value.weekly) for (const d of h.days) byDay[d] && byDay[d].push({ open: h.open, close: h.close });
  const days = DAYS.map(([d, label]) => dayRow(d, label, byDay[d]));
  const copy = el("button", { type: "button", class: "ghost small", id: "copy-monday", onclick: () => {
    const monday = days[0].periods();
    for (const day of days.slice(1, 5)) {
      const fresh = dayRow(day.day, DAYS.find(([d]) => d === day.day)[1], monday);
      day.node.replaceWith(fresh.node);
      Object.assign(day, fresh);
    }
    changed();
  } }, "Copy Monday to Tuesday–Friday");
  const week = el("div", { class: "week" }, ...days.map((d) => d.node));
  // Which stored `weekly[i]` each group came from in the last `get()` (problems name them).
  let groups = [];

  const holidays = el("div", { class: "holidays" });
  const holidayRows = [];
  const addHoliday = (h = { date: "", name: "" }) => {
    const entry = {
      date: el("input", { type: "date", value: h.date, "data-part": "date" }),
      name: el("input", { type: "text", value: h.name || "", placeholder: "e.g. New Year's Day", "data-part": "name" }),
      error: el("span", { class: "field-error", role: "alert" }),
      node: null,
    };
    entry.node = el("div", { class: "holiday" }, entry.date, entry.name,
      el("button", { type: "button", class: "ghost small", onclick: () => {
        holidayRows.splice(holidayRows.indexOf(entry), 1);
        entry.node.remove();
        changed();
      } }, "Remove"), entry.error);
    holidayRows.push(entry);
    holidays.append(entry.node);
  };
  for (const h of value.holidays) addHoliday(h);

  const targets = ["open_target", "closed_target", "holiday_target"].map((key) =>
    [key, editor(root, s.properties[key], value[key], key, key)]);
  const labels = { open_target: "When open, calls go to", closed_target: "When closed, calls go to", holiday_target: "On holidays, calls go to" };
  const targetRows = targets.map(([key, ed]) => row(key, labels[key], ed.node,
    key === "holiday_target" ? "Unset: where they go when closed." : null));

  const preview = el("div", { class: "preview", id: "schedule-preview", role: "status", "aria-live": "polite" }, "…");
  const get = () => {
    groups = [];
    const byPeriod = new Map();
    for (const day of days) {
      for (const p of day.periods()) {
        const key = `${p.open}-${p.close}`;
        if (!byPeriod.has(key)) {
          byPeriod.set(key, { days: [], open: p.open, close: p.close });
          groups.push(key);
        }
        byPeriod.get(key).days.push(day.day);
      }
    }
    const out = {
      name: name.value,
      time_zone: zone.value,
      weekly: groups.map((k) => byPeriod.get(k)),
      holidays: holidayRows.filter((h) => h.date.value || h.name.value).map((h) => ({ date: h.date.value, name: h.name.value })),
    };
    for (const [key, ed] of targets) {
      const v = ed.get();
      if (v !== undefined && v !== null) out[key] = v;
    }
    return out;
  };

  let timer = null;
  let asked = 0;
  const refresh = async () => {
    const mine = ++asked;
    try {
      const p = await api("POST", "/api/schedules/preview", { schedule: get() });
      if (mine !== asked) return;
      const now = p.now;
      const state = { open: "Open", closed: "Closed", holiday: "Holiday" }[now.hours];
      const next = p.next_change;
      preview.className = `preview ${now.hours}`;
      preview.replaceChildren(
        el("div", { class: "preview-now" }, el("strong", { "data-hours": now.hours }, state), ` now (${now.local_time}): calls go to `, el("strong", {}, describeTarget(now.target)), "."),
        el("div", { class: "sub" }, next
          ? `${{ open: "Opens", closed: "Closes", holiday: "Holiday from" }[next.hours]} ${next.local_time}: then ${describeTarget(next.target)}.`
          : "This never changes in the week ahead."));
    } catch (e) {
      if (mine !== asked) return;
      preview.className = "preview unknown";
      const first = e.problems && e.problems[0];
      preview.replaceChildren(el("span", { class: "sub" }, `No preview until this can be saved: ${first ? `${first.path}: ${first.message}` : e.message}`));
    }
  };
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  };

  const node = el("div", { class: "form-object schedule-editor" },
    row("name", "Name", name),
    row("time_zone", "Time zone", zone, "Hours and holidays are in this zone's local time."),
    preview,
    el("div", { class: "form-row", "data-field": "weekly" },
      el("div", { class: "week-head" }, el("span", { class: "label" }, "Opening hours"), copy),
      week, el("span", { class: "field-error", role: "alert" })),
    el("div", { class: "form-row", "data-field": "holidays" },
      el("span", { class: "label" }, "Holidays (closed all day)"), holidays,
      el("button", { type: "button", class: "ghost small add", onclick: () => addHoliday() }, "Add holiday"),
      el("span", { class: "field-error", role: "alert" })),
    ...targetRows);
  node.addEventListener("input", changed);
  node.addEventListener("change", changed);
  node.addEventListener("click", (e) => { if (e.target.tagName === "BUTTON") changed(); });
  refresh();

  return {
    node,
    get,
    mark: (segments, message) => {
      const [first, index, part] = segments;
      const rowOf = (f) => node.querySelector(`:scope > [data-field="${f}"]`);
      if (first === "weekly" && typeof index === "number" && groups[index]) {
        // Every day with that period shows the problem.
        let placed = false;
        for (const day of days) {
          for (const e of day.entries) {
            if (`${e.open.value}-${e.close.value}` === groups[index]) {
              e.error.textContent = message;
              e.node.classList.add("has-error");
              (part === "open" ? e.open : e.close).classList.add("invalid");
              placed = true;
            }
          }
        }
        if (placed) return markRow(rowOf("weekly"), "");
      }
      if (first === "holidays" && typeof index === "number" && holidayRows[index]) {
        holidayRows[index].error.textContent = message;
        return markRow(rowOf("holidays"), "");
      }
      const target = targets.find(([key]) => key === first);
      if (target && segments.length > 1 && target[1].mark && target[1].mark(segments.slice(1), message)) return true;
      return markRow(rowOf(first), message);
    },
  };
}
