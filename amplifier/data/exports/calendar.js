// amplifier HTML calendar: renders the JSON embedded in the page (id "amplifier-data").
// Data is written into the page only through textContent and attributes, never as markup:
// variant texts are written by work units and are not trusted.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("amplifier-data").textContent);
  const DAYS = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"];
  const MONTHS = [
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
    "September", "Oktober", "November", "Desember",
  ];
  const STATUS = {
    scheduled: "terjadwal",
    held: "ditahan (embargo)",
    publishing: "sedang dipublikasikan",
    published: "sudah terbit",
    missed: "terlewat",
    failed: "gagal",
    uncertain: "belum pasti (periksa akun)",
    cancelled: "dibatalkan",
  };
  const PER_DAY = 6; // entries shown in a month cell; the rest behind "+N lainnya"
  const HOLIDAY_KINDS = { holiday: true, joint_holiday: true };
  const KINDS = {
    holiday: "hari libur nasional",
    joint_holiday: "cuti bersama",
    nyepi: "Nyepi",
    quiet: "masa tenang",
    custom: "masa hening",
    embargo: "embargo",
  };
  const about = (s) => KINDS[s[1]] || s[1];
  // entry fields
  const ID = 0, ACCOUNT = 1, CAMPAIGN = 2, POST = 3, DAY = 4, CLOCK = 5, FULL = 6,
    STATE = 7, TEXT = 8, URL = 9, AT = 10;

  const $ = (id) => document.getElementById(id);
  const state = { view: "month", cursor: null, unit: "", campaign: "", platform: "", selected: null };
  let renders = 0;

  // --- dates as "YYYY-MM-DD" strings, computed in UTC so the browser's zone never matters
  const toTime = (day) => Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10));
  const toDay = (ms) => new Date(ms).toISOString().slice(0, 10);
  const addDays = (day, n) => toDay(toTime(day) + n * 86400000);
  const weekday = (day) => (new Date(toTime(day)).getUTCDay() + 6) % 7; // Monday = 0
  const monthStart = (day) => day.slice(0, 8) + "01";
  const addMonths = (day, n) => {
    const d = new Date(toTime(monthStart(day)));
    d.setUTCMonth(d.getUTCMonth() + n);
    return toDay(d.getTime());
  };
  const dayNumber = (day) => +day.slice(8, 10);
  const monthName = (day) => MONTHS[+day.slice(5, 7) - 1];
  const longDay = (day) =>
    `${DAYS[weekday(day)]}, ${dayNumber(day)} ${monthName(day)} ${day.slice(0, 4)}`;

  // --- indexes
  const byDay = new Map();
  data.entries.forEach((e, i) => {
    let list = byDay.get(e[DAY]);
    if (!list) byDay.set(e[DAY], (list = []));
    list.push(i);
  });
  byDay.forEach((list) => list.sort((a, b) => data.entries[a][AT] - data.entries[b][AT] || a - b));
  const shadeByDay = new Map();
  data.shades.forEach((s, i) => {
    s[6].forEach((day) => {
      let list = shadeByDay.get(day);
      if (!list) shadeByDay.set(day, (list = []));
      list.push(i);
    });
  });

  function visible(e) {
    const account = data.accounts[e[ACCOUNT]];
    return (
      (state.unit === "" || account[0] === +state.unit) &&
      (state.campaign === "" || e[CAMPAIGN] === +state.campaign) &&
      (state.platform === "" || account[1] === state.platform)
    );
  }

  function shadeApplies(s) {
    const [, kind, , campaigns, platforms, units] = s;
    const chosen = state.campaign === "" ? data.campaigns : [data.campaigns[+state.campaign]];
    const hit = chosen.some(
      (c) =>
        (!HOLIDAY_KINDS[kind] || c.avoidHolidays) && (campaigns === null || campaigns.includes(c.slug))
    );
    if (!hit) return false;
    if (platforms !== null && state.platform !== "" && !platforms.includes(state.platform)) return false;
    return units === null || state.unit === "" || units.includes(+state.unit);
  }

  function shadesOn(day) {
    return (shadeByDay.get(day) || []).map((i) => data.shades[i]).filter(shadeApplies);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function entryButton(i, long) {
    const e = data.entries[i];
    const account = data.accounts[e[ACCOUNT]];
    const unit = data.units[account[0]];
    const campaign = data.campaigns[e[CAMPAIGN]];
    const platform = data.platforms[account[1]] || account[1];
    const button = el("button", `entry status-${e[STATE]}`);
    button.type = "button";
    button.dataset.id = e[ID];
    button.dataset.index = i;
    button.style.setProperty("--c", campaign.colour);
    button.title = `${e[FULL]} · ${platform} @${account[2]} · ${unit[0]} · ${data.posts[e[POST]]}`;
    button.appendChild(el("span", "t", e[CLOCK]));
    button.appendChild(document.createTextNode(` ${platform} @${account[2]}`));
    if (long) {
      button.appendChild(document.createTextNode(` · ${unit[0]} · ${data.posts[e[POST]]}`));
      button.appendChild(el("span", "badge", STATUS[e[STATE]] || e[STATE]));
    }
    if (state.selected === i) button.classList.add("selected");
    return button;
  }

  function dayHeading(node, day, shades) {
    if (!shades.length) return;
    node.classList.add("shaded");
    const names = [...new Set(shades.map((s) => s[0]))];
    node.dataset.blackout = names.join("; ");
    node.title = shades.map((s) => `${s[0]} (${about(s)})${s[2] ? ": " + s[2] : ""}`).join("\n");
  }

  function renderMonth(root) {
    const first = monthStart(state.cursor);
    const next = addMonths(first, 1);
    const grid = el("div", "month");
    DAYS.forEach((name) => grid.appendChild(el("div", "head", name)));
    let day = addDays(first, -weekday(first));
    let count = 0;
    const used = new Map();
    while (day < next || weekday(day) !== 0) {
      const inside = day >= first && day < next;
      const cell = el("div", inside ? "day" : "day outside");
      cell.dataset.day = day;
      const shades = shadesOn(day);
      dayHeading(cell, day, shades);
      const num = el("div", "num");
      num.appendChild(el("span", "", String(dayNumber(day))));
      if (shades.length) num.appendChild(el("span", "why", shades[0][0]));
      cell.appendChild(num);
      const list = (byDay.get(day) || []).filter((i) => visible(data.entries[i]));
      if (inside) {
        count += list.length;
        shades.forEach((s) => used.set(s[0], s));
      }
      list.slice(0, PER_DAY).forEach((i) => cell.appendChild(entryButton(i, false)));
      if (list.length > PER_DAY) {
        const more = el("button", "more", `+${list.length - PER_DAY} lainnya`);
        more.type = "button";
        more.addEventListener("click", () => go({ view: "week", cursor: day }));
        cell.appendChild(more);
      }
      grid.appendChild(cell);
      day = addDays(day, 1);
    }
    root.appendChild(grid);
    $("period").textContent = `${monthName(first)} ${first.slice(0, 4)}`;
    return [count, used];
  }

  function renderWeek(root) {
    const start = addDays(state.cursor, -weekday(state.cursor));
    let count = 0;
    const used = new Map();
    for (let k = 0; k < 7; k++) {
      const day = addDays(start, k);
      const section = el("section", "agenda-day");
      section.dataset.day = day;
      const heading = el("h3");
      heading.appendChild(el("span", "", longDay(day)));
      const shades = shadesOn(day);
      if (shades.length) heading.appendChild(el("span", "why", shades.map((s) => s[0]).join("; ")));
      dayHeading(section, day, shades);
      shades.forEach((s) => used.set(s[0], s));
      section.appendChild(heading);
      const list = (byDay.get(day) || []).filter((i) => visible(data.entries[i]));
      count += list.length;
      if (!list.length) section.appendChild(el("p", "none", "Tidak ada konten."));
      list.forEach((i) => section.appendChild(entryButton(i, true)));
      root.appendChild(section);
    }
    const end = addDays(start, 6);
    const sameMonth = start.slice(0, 7) === end.slice(0, 7);
    $("period").textContent = sameMonth
      ? `${dayNumber(start)}–${dayNumber(end)} ${monthName(end)} ${end.slice(0, 4)}`
      : `${dayNumber(start)} ${monthName(start)} – ${dayNumber(end)} ${monthName(end)} ${end.slice(0, 4)}`;
    return [count, used];
  }

  function renderLegend(used) {
    const list = $("legend-blackouts");
    list.replaceChildren();
    used.forEach((s) => {
      const item = el("li");
      item.appendChild(el("span", "swatch shaded-swatch"));
      item.appendChild(document.createTextNode(` ${s[0]} — ${about(s)}`));
      if (s[2]) item.title = s[2];
      list.appendChild(item);
    });
  }

  function render() {
    const root = $("calendar");
    root.replaceChildren();
    const [count, used] = state.view === "month" ? renderMonth(root) : renderWeek(root);
    $("view-month").setAttribute("aria-pressed", String(state.view === "month"));
    $("view-week").setAttribute("aria-pressed", String(state.view === "week"));
    const counter = $("count");
    counter.dataset.count = count;
    counter.textContent = `${count} konten turunan di ${state.view === "month" ? "bulan" : "minggu"} ini`;
    renderLegend(used);
    renders += 1;
    document.documentElement.dataset.renders = renders;
    const hash = `#${state.view === "month" ? "bulan" : "minggu"}/${state.cursor}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  // "#bulan/2027-10-29" or "#minggu/2027-10-29": a link to a month or a week
  function fromHash() {
    const m = /^#(bulan|minggu)\/(\d{4}-\d{2}-\d{2})$/.exec(location.hash);
    if (!m || Number.isNaN(toTime(m[2]))) return false;
    state.view = m[1] === "bulan" ? "month" : "week";
    state.cursor = m[2];
    return true;
  }

  function go(change) {
    Object.assign(state, change);
    render();
  }

  function showDetail(i) {
    const e = data.entries[i];
    const account = data.accounts[e[ACCOUNT]];
    const unit = data.units[account[0]];
    const campaign = data.campaigns[e[CAMPAIGN]];
    const panel = $("detail");
    panel.style.setProperty("--c", campaign.colour);
    panel.dataset.id = e[ID];
    $("detail-campaign").textContent = campaign.title;
    $("detail-post").textContent = data.posts[e[POST]];
    $("detail-time").textContent = e[FULL];
    $("detail-unit").textContent = `${unit[0]} · ${unit[1]} (${unit[2]})`;
    $("detail-account").textContent = `${data.platforms[account[1]] || account[1]} @${account[2]}`;
    $("detail-status").textContent = STATUS[e[STATE]] || e[STATE];
    const link = $("detail-url");
    const url = e[URL] || "";
    link.textContent = url;
    if (/^https?:\/\//i.test(url)) link.href = url;
    else link.removeAttribute("href");
    panel.querySelectorAll(".link").forEach((n) => (n.hidden = !url));
    $("detail-text").textContent = e[TEXT];
    panel.hidden = false;
    state.selected = i;
    document.querySelectorAll(".entry.selected").forEach((n) => n.classList.remove("selected"));
    document.querySelectorAll(`.entry[data-index="${i}"]`).forEach((n) => n.classList.add("selected"));
  }

  function fill(select, options) {
    options.forEach(([value, label]) => {
      const option = el("option", "", label);
      option.value = value;
      select.appendChild(option);
    });
  }

  function setup() {
    fill($("filter-unit"), data.units.map((u, i) => [String(i), `${u[0]} · ${u[1]}`]));
    fill($("filter-campaign"), data.campaigns.map((c, i) => [String(i), c.title]));
    const platforms = [...new Set(data.accounts.map((a) => a[1]))].sort();
    fill($("filter-platform"), platforms.map((p) => [p, data.platforms[p] || p]));
    if (data.campaigns.length <= 1) $("campaign-label").hidden = true;
    [["filter-unit", "unit"], ["filter-campaign", "campaign"], ["filter-platform", "platform"]].forEach(
      ([id, key]) => $(id).addEventListener("change", (ev) => go({ [key]: ev.target.value }))
    );
    document.querySelectorAll("[data-view]").forEach((b) =>
      b.addEventListener("click", () => go({ view: b.dataset.view }))
    );
    $("prev").addEventListener("click", () =>
      go({ cursor: state.view === "month" ? addMonths(state.cursor, -1) : addDays(state.cursor, -7) })
    );
    $("next").addEventListener("click", () =>
      go({ cursor: state.view === "month" ? addMonths(state.cursor, 1) : addDays(state.cursor, 7) })
    );
    $("calendar").addEventListener("click", (ev) => {
      const button = ev.target.closest(".entry");
      if (button) showDetail(+button.dataset.index);
    });
    $("detail-close").addEventListener("click", () => {
      $("detail").hidden = true;
      state.selected = null;
      document.querySelectorAll(".entry.selected").forEach((n) => n.classList.remove("selected"));
    });
    const legend = $("legend-campaigns");
    data.campaigns.forEach((c) => {
      const item = el("li");
      const swatch = el("span", "swatch");
      swatch.style.setProperty("--c", c.colour);
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(` ${c.title}${c.active ? "" : " (nonaktif)"}`));
      legend.appendChild(item);
    });
    const links = $("campaign-links");
    if (links) {
      data.campaigns.forEach((c) => {
        if (!c.href) return;
        const item = el("li");
        const a = el("a", "", c.title);
        a.href = c.href;
        a.style.color = c.colour;
        item.appendChild(a);
        item.appendChild(document.createTextNode(` (${c.start} s.d. ${c.end})`));
        links.appendChild(item);
      });
    }
    // start on today when the calendar spans it, else on its nearest end
    const today = toDay(Date.now() - new Date().getTimezoneOffset() * 60000);
    const days = [...byDay.keys()].sort();
    let start = today;
    if (days.length && today < days[0]) start = days[0];
    else if (days.length && today > days[days.length - 1]) start = days[days.length - 1];
    state.cursor = start;
    fromHash();
    window.addEventListener("hashchange", () => fromHash() && render());
    render();
    // ready after the first frame with the calendar has been laid out and painted
    requestAnimationFrame(() =>
      setTimeout(() => {
        document.documentElement.dataset.ready = performance.now().toFixed(1);
      }, 0)
    );
  }

  setup();
})();
