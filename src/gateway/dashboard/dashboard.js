// The hostless dashboard: lists this node's sites and its health, live, and
// mirrors, unmirrors and opens sites through the control API.
//
// Credential: `hostless dashboard` (which can read <home>/api-token) asks the
// daemon for a one-time login code and prints http://localhost:PORT/#login=CODE.
// This page trades the code for a session key (POST /api/v1/session) and keeps
// it in localStorage of the dashboard's own origin, which no site
// (<address>.localhost, another origin) and no other website can read. The
// code travels in the URL fragment, which is never sent to a server.
"use strict";

const KEY = "hostless-session";
let session = localStorage.getItem(KEY);
const rows = new Map(); // address -> {tr, cells...}

const $ = (id) => document.getElementById(id);

function human(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  while (bytes >= 1024 && u < units.length - 1) {
    bytes /= 1024;
    u++;
  }
  return (u === 0 ? bytes.toFixed(0) : bytes.toFixed(1)) + " " + units[u];
}

function age(unix) {
  if (!unix) return "";
  const d = Date.now() / 1000 - unix;
  if (d < 60) return "just now";
  if (d < 3600) return Math.floor(d / 60) + " min ago";
  if (d < 86400) return Math.floor(d / 3600) + " h ago";
  return Math.floor(d / 86400) + " days ago";
}

function say(text, error) {
  const m = $("message");
  m.textContent = text;
  m.className = error ? "error" : "";
}

function signedOut() {
  session = null;
  localStorage.removeItem(KEY);
  $("main").hidden = true;
  $("login").hidden = false;
}

async function api(method, path, body) {
  const r = await fetch("/api/v1/" + path, {
    method,
    cache: "no-store",
    headers: {"Authorization": "Bearer " + session, "Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401) {
    signedOut();
    throw new Error("signed out");
  }
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

async function login() {
  const m = location.hash.match(/login=([0-9a-f]+)/);
  if (!m) return;
  history.replaceState(null, "", "/");  // the code is used up either way
  const r = await fetch("/api/v1/session", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({code: m[1]}),
  });
  const j = await r.json();
  if (r.ok) {
    session = j.token;
    localStorage.setItem(KEY, session);
  } else {
    $("login").hidden = false;
    say(j.error || "this login link does not work any more: run `hostless dashboard` again", true);
  }
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    say(what + " copied");
  } catch (e) {
    window.prompt("Copy the " + what.toLowerCase() + ":", text);
  }
}

async function followJob(id, label) {
  for (;;) {
    const j = await api("GET", "jobs/" + id);
    if (j.state === "done") return j;
    if (j.state === "failed") throw new Error(j.error);
    const pct = j.total ? " " + Math.floor((100 * j.done) / j.total) + "%" : "";
    say(label + ": " + j.stage + pct);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function mirror(address) {
  say("mirroring " + address + "…");
  try {
    await followJob((await api("POST", "mirror", {address})).job, "mirroring");
    say("mirrored " + address + ": a whole copy is kept, seeded and kept up to date");
  } catch (e) {
    say("mirror failed: " + e.message, true);
  }
  refresh();
}

async function unmirror(address, button) {
  // Two clicks: unmirroring deletes the copy.
  if (!button.dataset.armed) {
    button.dataset.armed = "1";
    button.textContent = "Really unmirror?";
    button.classList.add("danger");
    setTimeout(() => {
      delete button.dataset.armed;
      button.classList.remove("danger");
      refresh();
    }, 4000);
    return;
  }
  try {
    await api("POST", "unmirror", {address});
    say("unmirrored " + address);
  } catch (e) {
    say("unmirror failed: " + e.message, true);
  }
  refresh();
}

function makeRow(address) {
  const r = {tr: el("tr")};
  r.tr.dataset.address = address;
  const site = el("td");
  r.title = el("div", "title");
  r.address = el("div", "address", address);
  site.append(r.title, r.address);
  r.role = el("span", "role");
  const role = el("td");
  role.append(r.role);
  r.version = el("td");
  r.size = el("td");
  r.peers = el("td");
  r.rates = el("td");
  r.actions = el("td", "actions");
  r.open = el("a", "button", "Open");
  r.open.target = "_blank";
  r.open.rel = "noopener noreferrer";
  r.mirror = el("button", "", "Mirror");
  r.mirror.dataset.action = "mirror";
  r.mirror.addEventListener("click", () => {
    if (r.mirror.dataset.action === "mirror") mirror(address);
    else unmirror(address, r.mirror);
  });
  const copyAddress = el("button", "", "Copy address");
  copyAddress.addEventListener("click", () => copy(address, "Address"));
  r.copyMagnet = el("button", "", "Copy magnet");
  r.copyMagnet.addEventListener("click", () => copy(r.magnet, "Magnet"));
  r.actions.append(r.open, r.mirror, copyAddress, r.copyMagnet);
  r.tr.append(site, role, r.version, r.size, r.peers, r.rates, r.actions);
  return r;
}

function update(r, s) {
  r.title.textContent = s.title || "(untitled)";
  r.role.textContent = s.role;
  r.role.className = "role role-" + s.role;
  r.version.textContent = "";
  r.version.append(el("div", "", "v" + s.seq), el("div", "sub", age(s.version_added)));
  if (s.name) {
    // Published and mirrored sites: is their name in the DHT?
    const stored = s.name.state === "stored";
    const line = el("div", "sub" + (stored ? "" : " warn"),
                    stored ? "name on " + s.name.nodes + " DHT nodes" : "name not in the DHT yet");
    if (s.name.error) line.title = s.name.error;
    r.version.append(line);
  }
  r.size.textContent = "";
  if (s.size !== undefined) {
    r.size.append(el("div", "", human(s.size)));
    const have = s.on_disk || 0;
    if (have < s.size) {
      r.size.append(el("div", "sub", human(have) + " held"));
      const bar = el("progress");
      bar.max = s.size;
      bar.value = have;
      r.size.append(bar);
    }
  }
  r.peers.textContent = "";
  if (s.peers !== undefined) {
    r.peers.append(el("div", "", s.seeds + " seeds"), el("div", "sub", s.leechers + " leechers"));
  }
  r.rates.textContent = "";
  if (s.download_rate !== undefined) {
    r.rates.append(el("div", "", "↓ " + human(s.download_rate) + "/s"),
                   el("div", "sub", "↑ " + human(s.upload_rate) + "/s"));
  }
  r.open.href = s.url;
  r.magnet = s.magnet;
  if (!r.mirror.dataset.armed) {
    r.mirror.hidden = s.role === "published";
    r.mirror.dataset.action = s.role === "mirrored" ? "unmirror" : "mirror";
    r.mirror.textContent = s.role === "mirrored" ? "Unmirror" : "Mirror";
  }
}

async function refresh() {
  if (!session) return signedOut();
  let status, sites;
  try {
    [status, sites] = await Promise.all([api("GET", "status"), api("GET", "sites")]);
  } catch (e) {
    if (session) {
      $("h-state").textContent = "node not answering";
      $("h-state").className = "bad";
    }
    return;
  }
  $("login").hidden = true;
  $("main").hidden = false;
  $("h-state").textContent = "";
  $("h-dht").textContent = status.dht_nodes;
  // Whether peers can reach this node: behind a NAT without a port mapping,
  // its sites can be fetched only from a reachable mirror.
  const reach = status.reachability || {};
  $("h-reach").textContent = reach.reachable ? "reachable" : "not known to be reachable";
  $("h-reach").title = reach.summary || "";
  $("h-reach").className = reach.reachable ? "" : "warn";
  $("h-port").textContent = status.listen_port;
  $("h-torrents").textContent = status.torrents;
  $("h-down").textContent = human(status.downloaded);
  $("h-up").textContent = human(status.uploaded);
  const tbody = document.querySelector("#sites tbody");
  const seen = new Set();
  for (const s of sites) {
    seen.add(s.address);
    let r = rows.get(s.address);
    if (!r) {
      r = makeRow(s.address);
      rows.set(s.address, r);
      tbody.append(r.tr);
    }
    update(r, s);
  }
  for (const [address, r] of rows) {
    if (!seen.has(address)) {
      r.tr.remove();
      rows.delete(address);
    }
  }
  $("empty").hidden = sites.length > 0;
  $("sites").hidden = sites.length === 0;
}

$("open-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = $("open-input").value.trim();
  if (!q) return;
  try {
    const a = await api("GET", "address?q=" + encodeURIComponent(q));
    location.assign(a.url);
  } catch (e) {
    say(e.message, true);
  }
});

// A sign-in link opened in a tab that already shows the dashboard only
// changes the fragment.
window.addEventListener("hashchange", () => login().finally(refresh));

login().finally(() => {
  refresh();
  setInterval(refresh, 1000);
});
