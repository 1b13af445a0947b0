// The hostless dashboard: lists this node's sites and its health, live;
// mirrors, unmirrors, follows, unfollows, blocks and opens sites; shows the
// timeline of the followed feeds and posts (and replies) to this node's own
// feeds; all through the control API. Text from
// feeds is only ever set as textContent, never parsed as HTML.
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

// Two clicks for what deletes a copy: the first arms the button for 4 s.
function armed(button, question) {
  if (button.dataset.armed) return true;
  button.dataset.armed = "1";
  button.textContent = question;
  button.classList.add("danger");
  setTimeout(() => {
    delete button.dataset.armed;
    button.classList.remove("danger");
    refresh();
  }, 4000);
  return false;
}

// POST `action` with `body` ({address} unless given); says what happened.
async function act(action, address, done, body = {address}) {
  try {
    await api("POST", action, body);
    say(done + " " + address);
  } catch (e) {
    say(action + " failed: " + e.message, true);
  }
  refresh();
  refreshTimeline();
}

async function unmirror(address, button) {
  if (armed(button, "Really unmirror?")) await act("unmirror", address, "unmirrored");
}

async function unfollow(address, button) {
  if (armed(button, "Really unfollow?")) await act("unfollow", address, "unfollowed", {feed: address});
}

async function block(address, button) {
  if (armed(button, "Really block?")) await act("block", address, "blocked");
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
    const action = r.mirror.dataset.action;
    if (action === "mirror") mirror(address);
    else if (action === "unmirror") unmirror(address, r.mirror);
    else if (action === "unfollow") unfollow(address, r.mirror);
    else act("unblock", address, "unblocked");
  });
  r.block = el("button", "", "Block");
  r.block.dataset.action = "block";
  r.block.addEventListener("click", () => block(address, r.block));
  const copyAddress = el("button", "", "Copy address");
  copyAddress.addEventListener("click", () => copy(address, "Address"));
  r.copyMagnet = el("button", "", "Copy magnet");
  r.copyMagnet.addEventListener("click", () => copy(r.magnet, "Magnet"));
  r.actions.append(r.open, r.mirror, r.block, copyAddress, r.copyMagnet);
  r.tr.append(site, role, r.version, r.size, r.peers, r.rates, r.actions);
  return r;
}

function update(r, s) {
  r.title.textContent = s.title || "(untitled)";
  // Petnames and a followed feed's handle: the names it opens at.
  const names = (s.petnames || []).concat(s.handle ? [s.handle] : []);
  if (names.length) {
    r.title.append(el("span", "sub", " " + names.map((n) => n + ".localhost").join(", ")));
  }
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
    // A feed followed without its media keeps only `wanted` bytes of it.
    const goal = s.wanted !== undefined ? s.wanted : s.size;
    if (have < s.size) r.size.append(el("div", "sub", human(have) + " held"));
    if (have < goal) {
      const bar = el("progress");
      bar.max = goal;
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
    // What the row's main button does, by role.
    const action = {mirrored: "unmirror", followed: "unfollow", blocked: "unblock"}[s.role] ||
                   "mirror";
    r.mirror.hidden = s.role === "published" || s.role === "blocklist";
    r.mirror.dataset.action = action;
    r.mirror.textContent = action[0].toUpperCase() + action.slice(1);
  }
  if (!r.block.dataset.armed) {
    r.block.hidden = s.role === "published" || s.role === "blocked" || s.role === "blocklist";
    r.block.textContent = "Block";
  }
  r.open.hidden = s.role === "blocked";
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
  // it connects out to its sites' peers instead (slower).
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
  updateFeeds(sites.filter((s) => s.feed));
}

// The post form: which of this node's own feeds to post to.
function updateFeeds(feeds) {
  const select = $("post-feed");
  const chosen = select.value;
  const key = feeds.map((f) => f.address + " " + (f.title || "")).join();
  if (select.dataset.key !== key) {
    select.dataset.key = key;
    select.replaceChildren(...feeds.map((f) => {
      const o = el("option", "", (f.title || "(untitled)") + " · " + f.address.slice(0, 12) + "…");
      o.value = f.address;
      return o;
    }));
    if (feeds.some((f) => f.address === chosen)) select.value = chosen;
  }
  select.hidden = feeds.length < 2;
  $("post-form").hidden = feeds.length === 0;
}

// Reply to: the post's URL (hostless://<address>/feed.json#<id>), or none.
let replyTo = "";
function replyToPost(p) {
  replyTo = p.url;
  $("post-reply-to").textContent = "reply to " + (p.handle ? "@" + p.handle : p.own ? "yourself" :
                                                  p.feed.slice(0, 12) + "…");
  $("post-reply").hidden = false;
  $("post-text").focus();
}
$("post-reply-cancel").addEventListener("click", () => {
  replyTo = "";
  $("post-reply").hidden = true;
});

$("post-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("post-text").value;
  if (!text.trim()) return;
  const button = $("post-form").querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const body = {address: $("post-feed").value, text};
    if (replyTo) body.reply_to = replyTo;
    say("posting…");
    const j = await followJob((await api("POST", "post", body)).job, "posting");
    say("posted (version " + j.result.publish.seq + ")");
    $("post-text").value = "";
    replyTo = "";
    $("post-reply").hidden = true;
  } catch (e) {
    say("post failed: " + e.message, true);
  }
  button.disabled = false;
  refreshTimeline();
});

// The timeline: the newest posts of the followed feeds (GET timeline).
async function refreshTimeline() {
  if (!session) return;
  let t;
  try {
    t = await api("GET", "timeline?limit=50");
  } catch (e) {
    return;
  }
  const list = $("timeline");
  const items = [];
  for (const p of t.posts) {
    const li = el("li", "post");
    li.dataset.feed = p.feed;
    li.dataset.id = p.id;
    const head = el("div", "post-head");
    head.append(el("b", "", p.own ? "you" : p.handle ? "@" + p.handle : p.feed.slice(0, 12) + "…"),
                el("span", "sub", " " + age(p.time)));
    if (p.reply_to) {
      head.append(el("span", "sub",
                     " ↪ reply to " + (p.reply_to_own ? "you" : p.reply_to_handle ? "@" + p.reply_to_handle :
                                                         "a post")));
    }
    li.append(head, el("p", "post-text", p.text));
    for (const a of p.attachments || []) {
      const link = el("a", "sub", a.url.split("/").pop() + " (" + human(a.size) + ")");
      link.href = a.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      li.append(link);
    }
    if (!$("post-form").hidden) {
      const reply = el("button", "reply", "Reply");
      reply.addEventListener("click", () => replyToPost(p));
      li.append(reply);
    }
    items.push(li);
  }
  for (const f of t.feeds) {
    if (f.error) items.push(el("li", "post warn", (f.handle ? "@" + f.handle : f.address) +
                                                    ": not shown: " + f.error));
  }
  list.replaceChildren(...items);
  $("timeline-empty").hidden = t.posts.length > 0;
}

$("follow-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = $("follow-address").value.trim();
  if (!q) return;
  try {
    const a = await api("GET", "address?q=" + encodeURIComponent(q));
    const handle = $("follow-handle").value.trim();
    say("following " + a.address + "…");
    await followJob((await api("POST", "follow", {address: a.address, handle})).job, "following");
    say("following " + a.address + (handle ? " as @" + handle.replace(/^@/, "") : ""));
    $("follow-address").value = "";
    $("follow-handle").value = "";
  } catch (e) {
    say("follow failed: " + e.message, true);
  }
  refresh();
  refreshTimeline();
});

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

login().finally(async () => {
  await refresh();  // first: the timeline offers Reply when there is a feed to post to
  refreshTimeline();
  setInterval(refresh, 1000);
  setInterval(refreshTimeline, 3000);
});
