// The operators' console of `activator serve`. No framework, no CDN: the
// DOM is built with textContent only (never innerHTML with data), and every
// request goes to the same /v1 routes as any client, with the session
// cookie and its CSRF token.
"use strict";

const T = {
  en: {
    brand: "License console", overview: "Overview", activate: "Activate", usage: "Usage", airgap: "Air gap", history: "History",
    signout: "Sign out", lang: "中文", signin: "Sign in", token: "Admin token",
    tokenHelp: "Made on the install with: activator serve token create --scope admin", loading: "Loading…",
    product: "Product", edition: "Edition", plan: "Plan", region: "Region", engine: "Engine", settlement: "Settlement account",
    account: "Account", license: "License", packages: "Packages", quotas: "Quotas", activated: "Activated", expires: "Expires",
    remaining: "Remaining", graceEnd: "Grace ends", release: "Released in", deletion: "Data due for deletion", none: "none",
    never: "never (perpetual)", warnings: "Warnings", gateway: "Data gateway", credentials: "Access key",
    st_active: "Active", st_expiring: "Expiring soon", st_grace: "Grace — not usable, data kept", st_released: "Released",
    st_community: "Community edition", st_unlicensed: "No license", st_clock: "Clock problem", st_not_yet_valid: "Not valid yet",
    licenseText: "License", licenseHelp: "Paste the license as the vendor sent it (e-mail quoting is fine), or drop the file here.",
    drop: "Drop a license file here, or choose one:", ak: "Access key ID", sk: "Secret key",
    skHelp: "Stored sealed; never shown again, only masked.", gw: "Data gateway address",
    gwHelp: "Keep ?token={} exactly as the vendor wrote it: {} is a placeholder the product fills in per workspace. Never type a real token here.",
    gwOk: "Valid. It will be stored as:", gwSpace: "The address contains whitespace.", submit: "Activate",
    activated_ok: "Activated.", collectors: "Counted per day", billed: "billed", minimum: "minimum", charge: "Charge",
    seats: "Seats", activeNow: "Active now", today: "Today", cap: "cap", noCap: "no cap", noUsage: "No usage recorded in this period.",
    request: "Activation request", requestHelp: "For an install with no route to the vendor: give this file (or the QR code) to the vendor.",
    download: "Download", showQr: "Show as QR code", bound: "Bound license", upload: "Activate this file",
    receipt: "Activation receipt", report: "Usage report", from: "From", to: "To", revocations: "Revocation list", import: "Import",
    deactivate: "Deactivate", deactivateHelp: "Releases the license from this install and writes the signed deactivation receipt for the vendor, who can then move the license to another machine. This license can never be activated here again.",
    confirm: "Yes, release the license", cancel: "Cancel", done: "Done.",
    at: "When", replaced: "Replaced", sequence: "Sequence", noHistory: "Nothing activated yet.",
    hint: "What to do", signedOut: "Signed out.",
  },
  "zh-CN": {
    brand: "许可证控制台", overview: "概览", activate: "激活", usage: "用量", airgap: "离线", history: "历史",
    signout: "退出", lang: "English", signin: "登录", token: "管理员令牌",
    tokenHelp: "在安装机器上生成：activator serve token create --scope admin", loading: "加载中…",
    product: "产品", edition: "版本", plan: "付费方式", region: "地域", engine: "计算引擎", settlement: "结算账号",
    account: "账号", license: "许可证", packages: "增值功能包", quotas: "规格", activated: "开通时间", expires: "到期时间",
    remaining: "剩余可用时间", graceEnd: "宽限期结束", release: "距离释放", deletion: "数据删除时间", none: "无",
    never: "永不到期（许可证制）", warnings: "提醒", gateway: "数据网关地址", credentials: "AccessKey",
    st_active: "正常", st_expiring: "即将到期", st_grace: "已过期：不可使用，数据保留", st_released: "已释放",
    st_community: "社区版", st_unlicensed: "无许可证", st_clock: "时钟异常", st_not_yet_valid: "尚未生效",
    licenseText: "License", licenseHelp: "粘贴厂商发来的 License（邮件引用格式也可以），或把文件拖到这里。",
    drop: "把 License 文件拖到这里，或选择文件：", ak: "AccessKey ID", sk: "AccessKey Secret",
    skHelp: "加密保存，之后不再显示，只显示掩码。", gw: "数据网关地址",
    gwHelp: "请保持 ?token={} 原样：{} 是占位符，由产品按工作空间填入。不要在这里填写真实的 token。",
    gwOk: "有效，将保存为：", gwSpace: "地址中含有空白字符。", submit: "激活",
    activated_ok: "已激活。", collectors: "每日计量", billed: "计费", minimum: "最低", charge: "费用",
    seats: "席位", activeNow: "当前在线", today: "今日", cap: "上限", noCap: "无上限", noUsage: "此期间没有用量记录。",
    request: "激活请求", requestHelp: "用于无法连接厂商的安装：把此文件（或二维码）交给厂商。",
    download: "下载", showQr: "显示二维码", bound: "绑定的 License", upload: "激活此文件",
    receipt: "激活回执", report: "用量报告", from: "从", to: "到", revocations: "吊销列表", import: "导入",
    deactivate: "停用", deactivateHelp: "从本安装释放许可证，并生成给厂商的签名停用回执，厂商可据此把许可证转到另一台机器。此许可证以后不能再在这里激活。",
    confirm: "确认释放许可证", cancel: "取消", done: "完成。",
    at: "时间", replaced: "替换了", sequence: "序号", noHistory: "尚未激活任何许可证。",
    hint: "处理建议", signedOut: "已退出。",
  },
};

// The API's error classes, in Chinese: the prefix of an error the API sent
// without its own translation (every error of this release has one).
const CLASS_ZH = {
  usage: "请求有误", malformed: "格式错误", bad_signature: "签名无效", untrusted_key: "签名密钥不受信任", expired: "已过期",
  not_yet_valid: "尚未生效", activation_window_closed: "激活期限已过", mismatch: "不匹配（产品、地域、账号或安装）",
  superseded: "已被更新的许可证取代", revoked: "已吊销", not_entitled: "未授权", state: "安装状态不允许", io: "读写失败",
  internal: "内部错误", key: "密钥错误", order_refused: "订单被拒绝", catalog: "目录错误",
};

let lang = localStorage.getItem("lang") || ((navigator.languages || [navigator.language || "en"]).some((l) => l.toLowerCase().startsWith("zh")) ? "zh-CN" : "en");
const t = (k) => (T[lang] && T[lang][k]) || T.en[k] || k;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "on") for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) e.append(typeof c === "string" ? document.createTextNode(c) : c);
  return e;
}

class ApiError extends Error {
  constructor(status, error) { super(error.message); this.status = status; this.error = error; }
}

async function api(method, path, body, raw) {
  const headers = { "X-CSRF-Token": sessionStorage.getItem("csrf") || "" };
  let payload;
  if (body !== undefined && !raw) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  if (raw) { headers["Content-Type"] = "text/plain"; payload = body; }
  const r = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  const type = r.headers.get("content-type") || "";
  if (!r.ok) {
    const j = type.includes("json") ? await r.json() : { error: { class: "internal", message: r.statusText, hint: "" } };
    if (r.status === 401) { sessionStorage.removeItem("csrf"); }
    throw new ApiError(r.status, j.error);
  }
  return type.includes("json") ? r.json() : r.blob();
}

// An error's message and hint in the console's language: the API sends
// both languages (`translations`).
function texts(err) {
  const own = err.translations && err.translations[lang];
  if (own) return own;
  const prefix = lang === "zh-CN" && CLASS_ZH[err.class] ? CLASS_ZH[err.class] + "：" : "";
  return { message: prefix + err.message, hint: err.hint };
}

function errorBox(e) {
  const err = e.error || { class: "internal", message: String(e), hint: "" };
  const { message, hint } = texts(err);
  return el("div", { class: "error", role: "alert", id: "error", "data-case": err.case || "" },
    el("strong", { text: message }), hint ? el("div", {}, t("hint") + ": " + hint) : null);
}

// Times: in the browser's zone, the UTC value on hover.
function time(iso) {
  if (!iso) return el("span", { text: t("none") });
  return el("time", { datetime: iso, title: iso + " (UTC)", text: new Date(iso).toLocaleString(lang) });
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const neg = seconds < 0, s = Math.abs(seconds);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  const text = lang === "zh-CN" ? `${d} 天 ${h} 小时 ${m} 分` : `${d} days ${h} hours ${m} minutes`;
  return neg ? "−" + text : text;
}

function state(st) {
  if (st.clock_set_back) return "clock";
  if (st.phase === "active" && st.license && st.license.expiring_soon) return "expiring";
  return st.phase;
}

function money(minor, currency) {
  if (minor === null || minor === undefined) return "—";
  return (minor / 100).toFixed(2) + " " + (currency || "");
}

const main = () => document.getElementById("main");
function show(...nodes) { const m = main(); m.replaceChildren(...nodes); m.focus({ preventScroll: true }); }

function signinPage(message) {
  const input = el("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true, "aria-describedby": "token-help" });
  const form = el("form", { id: "signin", on: { submit: async (ev) => {
    ev.preventDefault();
    const box = document.getElementById("error"); if (box) box.remove();
    try {
      const r = await fetch("/console/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: input.value }) });
      const j = await r.json();
      input.value = "";
      if (!r.ok) throw new ApiError(r.status, j.error);
      sessionStorage.setItem("csrf", j.csrf);
      location.hash = "#/overview"; route();
    } catch (e) { form.append(errorBox(e)); }
  } } },
    el("div", { class: "field" }, el("label", { for: "token", text: t("token") }), input, el("div", { class: "help", id: "token-help", text: t("tokenHelp") })),
    el("button", { type: "submit", id: "signin-submit", text: t("signin") }));
  document.getElementById("nav").hidden = true;
  document.getElementById("signout").hidden = true;
  show(el("h1", { text: t("signin") }), message ? el("p", { class: "notice", text: message }) : null, el("div", { class: "card" }, form));
}

function row(label, value, id) { return [el("dt", { text: label }), el("dd", { id }, value)]; }

function overviewCard(st) {
  const l = st.license;
  const s = state(st);
  const items = [row(t("product"), st.product, "ov-product"), row(t("edition"), st.edition, "ov-edition")];
  if (l) {
    const pk = Object.entries(l.packages);
    items.push(
      row(t("plan"), l.plan, "ov-plan"), row(t("region"), l.region, "ov-region"), row(t("engine"), l.engine || t("none"), "ov-engine"),
      row(t("settlement"), l.settlement, "ov-settlement"), row(t("account"), l.account, "ov-account"),
      row(t("license"), `${l.id} (#${l.sequence})`, "ov-license"),
      row(t("packages"), pk.length ? el("ul", {}, pk.map(([name, g]) => el("li", {},
        `${name}: ${g.tier}` + (Object.keys(g.limits).length ? " (" + Object.entries(g.limits).map(([k, v]) => `${k} ${v}`).join(", ") + ")" : "")))) : t("none"), "ov-packages"),
      row(t("quotas"), Object.keys(l.quotas).length ? Object.entries(l.quotas).map(([k, v]) => `${k} ${v}`).join(", ") : t("none"), "ov-quotas"),
      row(t("activated"), time(l.activated_at), "ov-activated"),
      row(t("expires"), l.expires_at ? time(l.expires_at) : t("never"), "ov-expires"),
      row(t("remaining"), duration(l.remaining_seconds), "ov-remaining"),
      row(t("graceEnd"), time(l.release_at), "ov-grace"));
    if (l.release_in_seconds !== null) items.push(row(t("release"), duration(l.release_in_seconds), "ov-release"));
  }
  if (st.deletion_due) items.push(row(t("deletion"), time(st.deletion_due), "ov-deletion"));
  items.push(row(t("gateway"), st.gateway || t("none"), "ov-gateway"));
  items.push(row(t("credentials"), st.credentials ? `${st.credentials.access_key} / ${st.credentials.secret_key}` : t("none"), "ov-credentials"));
  return el("section", { class: "card", "aria-labelledby": "ov-title" },
    el("span", { class: "badge " + s, id: "ov-state", "data-state": s, text: t("st_" + s) }),
    el("h1", { id: "ov-title", text: t("overview") }),
    el("dl", { class: "grid" }, items),
    st.warnings.length ? el("div", { class: "notice", id: "ov-warnings" }, el("strong", { text: t("warnings") }), el("ul", {}, st.warnings.map((w) => el("li", { text: w })))) : null);
}

// Every day of the period, 0 where nothing was counted.
function allDays(usage) {
  const byDay = Object.fromEntries(usage.days.map((d) => [d.day, d]));
  const out = [];
  for (let d = new Date(usage.from + "T00:00:00Z"); d <= new Date(usage.to + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + 1)) {
    const day = d.toISOString().slice(0, 10);
    out.push(byDay[day] || { day, collectors: 0, count: 0, billed: 0, amount: null });
  }
  return out;
}

function chart(usage) {
  if (!usage.days.length) return el("p", { class: "muted", id: "usage-empty", text: t("noUsage") });
  const days = allDays(usage);
  const W = 720, H = 240, P = 30, max = Math.max(usage.minimum || 0, ...days.map((d) => d.count), 1);
  const bw = (W - 2 * P) / days.length;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`); svg.setAttribute("class", "chart"); svg.setAttribute("id", "usage-chart");
  svg.setAttribute("role", "img"); svg.setAttribute("aria-label", t("collectors"));
  const add = (tag, attrs, text) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text) e.textContent = text; svg.append(e); return e; };
  days.forEach((d, i) => {
    const h = (H - 2 * P) * d.count / max;
    const bar = add("rect", { class: "bar", x: P + i * bw + 1, y: H - P - h, width: Math.max(bw - 2, 1), height: h });
    const title = document.createElementNS(ns, "title");
    title.textContent = `${d.day}: ${d.count} (${t("billed")} ${d.billed}, ${t("charge")} ${money(d.amount, usage.currency)})`;
    bar.append(title);
    if (days.length <= 16 || i % Math.ceil(days.length / 8) === 0 || i === days.length - 1) add("text", { x: P + i * bw, y: H - 10 }, d.day.slice(5));
  });
  if (usage.minimum) {
    const y = H - P - (H - 2 * P) * usage.minimum / max;
    add("line", { class: "min", x1: P, x2: W - P, y1: y, y2: y });
    add("text", { x: W - P - 80, y: y - 4 }, `${t("minimum")} ${usage.minimum}`);
  }
  add("text", { x: 2, y: P }, String(max));
  return svg;
}

function usagePage(o) {
  const u = o.usage, c = o.collectors;
  const rows = u.days.slice().reverse().map((d) => el("tr", {}, el("td", { text: d.day }), el("td", { text: String(d.collectors) }),
    el("td", { text: String(d.count) }), el("td", { text: String(d.billed) }), el("td", { text: money(d.amount, u.currency) })));
  show(el("h1", { text: t("usage") }),
    el("section", { class: "card" }, el("h2", { text: t("collectors") + (u.units ? ` (${u.units})` : "") }), chart(u),
      el("table", { id: "usage-table" }, el("thead", {}, el("tr", {}, ["day", t("collectors"), "count", t("billed"), t("charge")].map((h) => el("th", { text: h })))), el("tbody", {}, rows))),
    u.unit_price_per_day !== null ? el("p", { class: "help", id: "usage-price", text: `${money(u.unit_price_per_day, u.currency)} / ${t("billed")} · ${t("minimum")} ${u.minimum}` }) : null,
    el("section", { class: "card" }, el("h2", { text: t("seats") }),
      el("dl", { class: "grid" }, row(t("seats"), `${c.seats.used} / ${c.seats.cap === null ? t("noCap") : c.seats.cap}`, "seats"),
        row(t("activeNow"), String(c.active), "active-now"), row(t("today"), String(c.today), "today"))));
}

function historyPage(o) {
  const h = o.history;
  show(el("h1", { text: t("history") }), h.length ? el("table", { id: "history" },
    el("thead", {}, el("tr", {}, [t("at"), t("license"), t("account"), t("edition"), t("sequence"), t("expires"), t("replaced")].map((x) => el("th", { text: x })))),
    el("tbody", {}, h.slice().reverse().map((e) => el("tr", {}, el("td", {}, time(e.at)), el("td", { text: e.license }), el("td", { text: e.account }),
      el("td", { text: e.edition }), el("td", { text: String(e.sequence) }), el("td", {}, e.expires_at ? time(e.expires_at) : t("never")), el("td", { text: e.replaced || "—" })))))
    : el("p", { class: "muted", text: t("noHistory") }));
}

function fileInput(id, onText, label) {
  const input = el("input", { type: "file", id, "aria-label": label || null, on: { change: async () => { if (input.files[0]) onText(await input.files[0].text()); } } });
  return input;
}

function activatePage() {
  const lic = el("textarea", { id: "license", name: "license", required: true, spellcheck: "false", "aria-describedby": "license-help" });
  const drop = el("div", { class: "drop", id: "drop", on: {
    dragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
    dragleave: () => drop.classList.remove("over"),
    drop: async (e) => { e.preventDefault(); drop.classList.remove("over"); const f = e.dataTransfer.files[0]; if (f) lic.value = await f.text(); },
  } }, t("drop"), " ", fileInput("license-file", (text) => { lic.value = text; }, t("licenseText")));
  const ak = el("input", { type: "text", id: "ak", name: "ak", autocomplete: "off" });
  const sk = el("input", { type: "password", id: "sk", name: "sk", autocomplete: "new-password", "aria-describedby": "sk-help" });
  const gw = el("input", { type: "text", id: "gateway", name: "gateway", spellcheck: "false", autocomplete: "off", "aria-describedby": "gw-help gw-check", placeholder: "https://gateway.example.com/v1/write?token={}" });
  const check = el("div", { id: "gw-check", "aria-live": "polite" });
  let timer = null, gwValid = true;
  const validate = async () => {
    if (!gw.value) { check.replaceChildren(); gwValid = true; return; }
    const notes = [];
    if (/\s/.test(gw.value)) notes.push(el("div", { class: "bad", id: "gw-space", text: t("gwSpace") }));
    try {
      const r = await api("POST", "/v1/gateway/check", { url: gw.value });
      gwValid = true;
      check.replaceChildren(...notes, el("div", { class: "ok", id: "gw-ok" }, t("gwOk") + " ", el("code", { text: r.gateway })), ...((r.translations && r.translations[lang] && r.translations[lang].notes) || r.notes).map((n) => el("div", { class: "help", text: n })));
    } catch (e) {
      gwValid = false;
      check.replaceChildren(...notes, el("div", { class: "bad", id: "gw-bad", role: "alert", text: e.error ? texts(e.error).message : String(e) }));
    }
  };
  gw.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(validate, 200); });
  const result = el("div", { id: "result", "aria-live": "polite" });
  const form = el("form", { id: "activate-form", on: { submit: async (ev) => {
    ev.preventDefault();
    await validate();
    if (!gwValid) { gw.focus(); return; }
    const body = { license: lic.value };
    if (gw.value) body.gateway = gw.value;
    if (ak.value || sk.value) { body.access_key_id = ak.value; body.secret_key = sk.value; }
    try {
      await api("POST", "/v1/activate", body);
      sk.value = "";
      location.hash = "#/overview";
    } catch (e) { result.replaceChildren(errorBox(e)); }
  } } },
    el("div", { class: "field" }, el("label", { for: "license", text: t("licenseText") }), drop, lic, el("div", { class: "help", id: "license-help", text: t("licenseHelp") })),
    el("div", { class: "field" }, el("label", { for: "ak", text: t("ak") }), ak),
    el("div", { class: "field" }, el("label", { for: "sk", text: t("sk") }), sk, el("div", { class: "help", id: "sk-help", text: t("skHelp") })),
    el("div", { class: "field" }, el("label", { for: "gateway", text: t("gw") }), gw, el("div", { class: "help", id: "gw-help", text: t("gwHelp") }), check),
    el("button", { type: "submit", id: "activate-submit", text: t("submit") }), result);
  show(el("h1", { text: t("activate") }), el("section", { class: "card" }, form));
}

function save(blob, name) {
  const a = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a); a.click(); a.remove();
}

function airgapPage() {
  const out = el("div", { id: "airgap-result", "aria-live": "polite" });
  const run = (f) => async () => { try { out.replaceChildren(); await f(); } catch (e) { out.replaceChildren(errorBox(e)); } };
  const qr = el("div", { id: "qr" });
  const from = el("input", { type: "date", id: "report-from" }), to = el("input", { type: "date", id: "report-to" });
  const today = new Date().toISOString().slice(0, 10); from.value = today; to.value = today;
  const confirmBox = el("div", { id: "deactivate-confirm", hidden: true }, el("p", { class: "notice", text: t("deactivateHelp") }),
    el("div", { class: "row" }, el("button", { type: "button", class: "danger", id: "deactivate-yes", on: { click: run(async () => {
      save(await api("POST", "/v1/files/deactivation-receipt"), "deactivation-receipt.txt");
      confirmBox.hidden = true; out.replaceChildren(el("p", { class: "ok", text: t("done") }));
    }) } }, t("confirm")), el("button", { type: "button", class: "secondary", on: { click: () => { confirmBox.hidden = true; } } }, t("cancel"))));
  const section = (title, help, ...body) => el("section", { class: "card" }, el("h2", { text: title }), help ? el("p", { class: "help", text: help }) : null, ...body);
  show(el("h1", { text: t("airgap") }), out,
    section(t("request"), t("requestHelp"), el("div", { class: "row" },
      el("button", { type: "button", id: "request-download", on: { click: run(async () => save(await api("POST", "/v1/files/activation-request"), "activation-request.txt")) } }, t("download")),
      el("button", { type: "button", class: "secondary", id: "request-qr", on: { click: run(async () => {
        const blob = await api("POST", "/v1/files/activation-request?format=svg");
        qr.replaceChildren(el("img", { class: "qr", id: "qr-img", alt: t("request"), src: URL.createObjectURL(blob) }));
      }) } }, t("showQr"))), qr),
    section(t("bound"), null, el("label", { for: "bound-file", text: t("bound") }), fileInput("bound-file", (text) => run(async () => {
      await api("POST", "/v1/activate", { license: text }); out.replaceChildren(el("p", { class: "ok", text: t("activated_ok") }));
    })())),
    section(t("receipt"), null, el("button", { type: "button", id: "receipt-download", on: { click: run(async () => save(await api("POST", "/v1/files/activation-receipt"), "activation-receipt.txt")) } }, t("download"))),
    section(t("report"), null, el("div", { class: "row" }, el("label", { for: "report-from", text: t("from") }), from, el("label", { for: "report-to", text: t("to") }), to,
      el("button", { type: "button", id: "report-download", on: { click: run(async () => save(await api("POST", `/v1/files/usage-report?from=${from.value}&to=${to.value}`), "usage-report.txt")) } }, t("download")))),
    section(t("revocations"), null, el("label", { for: "revocations-file", text: t("revocations") }), fileInput("revocations-file", (text) => run(async () => {
      const r = await api("POST", "/v1/revocations", text, true); out.replaceChildren(el("p", { class: "ok", text: `${t("done")} #${r.sequence}` }));
    })())),
    section(t("deactivate"), t("deactivateHelp"), el("button", { type: "button", class: "danger", id: "deactivate", on: { click: () => { confirmBox.hidden = false; document.getElementById("deactivate-yes").focus(); } } }, t("deactivate")), confirmBox));
}

function chrome() {
  document.documentElement.lang = lang;
  document.getElementById("brand").textContent = t("brand");
  for (const a of document.querySelectorAll("nav a")) a.textContent = t(a.dataset.page);
  document.getElementById("lang").textContent = t("lang");
  document.getElementById("signout").textContent = t("signout");
  document.title = t("brand");
}

async function route() {
  chrome();
  const page = (location.hash.replace(/^#\//, "") || "overview").split("?")[0];
  for (const a of document.querySelectorAll("nav a")) { if (a.dataset.page === page) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current"); }
  if (!sessionStorage.getItem("csrf")) return signinPage();
  document.getElementById("nav").hidden = false;
  document.getElementById("signout").hidden = false;
  if (page === "activate") return activatePage();
  if (page === "airgap") return airgapPage();
  try {
    const o = await api("GET", "/v1/overview");
    if (page === "usage") return usagePage(o);
    if (page === "history") return historyPage(o);
    const start = performance.now();
    show(overviewCard(o.status));
    document.body.dataset.renderMs = (performance.now() - start).toFixed(2);
  } catch (e) {
    if (e.status === 401 || e.status === 403) return signinPage();
    show(errorBox(e));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("lang").addEventListener("click", () => { lang = lang === "zh-CN" ? "en" : "zh-CN"; localStorage.setItem("lang", lang); route(); });
  document.getElementById("signout").addEventListener("click", async () => {
    try { await api("DELETE", "/console/session"); } catch (e) { /* signed out either way */ }
    sessionStorage.removeItem("csrf"); location.hash = "#/overview"; signinPage(t("signedOut"));
  });
  window.addEventListener("hashchange", route);
  route();
});
