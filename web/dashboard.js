// The dashboard: every live instance (from the API's GET /v1/envs/) with a live thumbnail (one
// Server-Sent Events stream for all of them), its episodes' rewards plotted from the monitor's
// stats files, its recorded videos and a .zip of its monitor directory; then the directories of
// instances that are closed but left files behind.
"use strict";

(() => {
  const { el } = gym;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 2000;
  const THUMBNAIL_FPS = 8;
  const VIDEO = /^openaigym\.video\.(\d+)\.(\d+)\.video(\d+)\.mp4$/;
  const STATS = /^openaigym\.episode_batch\.\d+\.\d+\.stats\.json$/;
  const MANIFEST = /^openaigym\.manifest\.\d+\.\d+\.manifest\.json$/;

  const cards = new Map(); // instance id -> card
  let liveIDs = [];
  let watcher = null;
  let watchedKey = "";

  function notice(text, kind) {
    const box = $("notice");
    box.replaceChildren();
    if (text) box.append(el("div", { class: `notice ${kind || ""}` }, text));
  }

  // MARK: cards

  function makeCard(id) {
    const card = { id, live: false, envID: null, files: new Map(), statsKey: "", videosKey: "", episodes: null, currentVideo: null, lastDetail: 0 };
    card.title = el("h2", {}, "…");
    card.badge = el("span", { class: "badge" }, "");
    card.image = el("img", { alt: `Latest frame of ${id}`, hidden: true });
    card.waiting = el("div", { class: "waiting" }, "waiting for a frame…");
    card.chips = el("div", { class: "overlay" });
    card.thumb = el("a", { class: "thumb", href: `/render.html?instance_id=${encodeURIComponent(id)}`, title: "Open the live view" },
      card.image, card.waiting, card.chips);
    card.canvas = el("canvas", { width: 600, height: 170 });
    card.plotAside = el("span", { class: "aside" }, "");
    card.plotBox = el("div", { class: "plot" });
    card.videoAside = el("span", { class: "aside" }, "");
    card.videoBox = el("div", { class: "videos" });
    card.node = el("article", { class: "card", dataset: { instance: id } },
      el("header", {}, card.title, el("code", {}, id), card.badge),
      card.thumb,
      el("div", { class: "body" },
        el("div", {}, el("div", { class: "label" }, "Reward per episode", card.plotAside), card.plotBox),
        el("div", {}, el("div", { class: "label" }, "Videos", card.videoAside), card.videoBox)),
      el("footer", {},
        card.liveLink = el("a", { class: "button primary", href: `/render.html?instance_id=${encodeURIComponent(id)}` }, "Live view"),
        el("a", { class: "button", href: `/${encodeURIComponent(id)}/` }, "Files"),
        el("a", { class: "button", href: `/${encodeURIComponent(id)}.zip`, download: `${id}.zip` }, "Download .zip")));
    showNoEpisodes(card, "No episodes recorded yet: start the monitor (POST /v1/envs/<id>/monitor/start/) and finish an episode.");
    card.videoBox.append(el("div", { class: "none" }, "No videos yet."));
    window.addEventListener("resize", () => drawPlot(card));
    return card;
  }

  function setLive(card, live) {
    card.live = live;
    card.badge.className = `badge ${live ? "live" : "closed"}`;
    card.badge.textContent = live ? "live" : "closed";
    card.liveLink.hidden = !live;
    card.thumb.href = live ? `/render.html?instance_id=${encodeURIComponent(card.id)}` : `/${encodeURIComponent(card.id)}/rendered/`;
    if (!live && card.image.hidden) {
      // A closed instance: its last rendered frame, if it rendered any; else no picture at all.
      card.thumb.hidden = true;
      if (card.hasRendered) {
        card.image.onload = () => {
          card.image.hidden = false;
          card.waiting.hidden = true;
          card.thumb.hidden = false;
        };
        card.image.src = `/${encodeURIComponent(card.id)}/rendered/latest.png`;
      }
    }
  }

  function showFrame(status, url) {
    const card = cards.get(status.instance_id);
    if (!card) return;
    card.image.src = url;
    card.image.hidden = false;
    card.waiting.hidden = true;
    card.thumb.hidden = false;
    if (status.env_id && card.title.textContent !== status.env_id) card.title.textContent = status.env_id;
    card.chips.replaceChildren(
      el("span", { class: "chip" }, `episode ${status.episode}`),
      el("span", { class: "chip" }, `step ${status.step}`),
      el("span", { class: "chip" }, `reward ${gym.formatNumber(status.episode_reward, 2)}`));
    card.node.dataset.frames = String((Number(card.node.dataset.frames) || 0) + 1);
  }

  // MARK: monitor files

  /**
   * Files of an instance's directory, two levels deep: {"simulation/openaigym...": entry}.
   * rendered/ is left alone: it can hold thousands of frames.
   */
  async function listFiles(id) {
    const files = new Map();
    const top = await gym.getJSON(`/${encodeURIComponent(id)}/?format=json`);
    const directories = top.entries.filter((e) => e.type === "directory" && e.name !== "rendered");
    files.hasRendered = top.entries.some((e) => e.type === "directory" && e.name === "rendered");
    const listings = await Promise.all(directories.map((d) =>
      gym.getJSON(`${d.url}?format=json`).then((l) => [d.name, l]).catch(() => [d.name, { entries: [] }])));
    for (const entry of top.entries) if (entry.type === "file") files.set(entry.name, entry);
    for (const [name, listing] of listings) {
      for (const entry of listing.entries) {
        if (entry.type === "file") files.set(`${name}/${entry.name}`, entry);
      }
    }
    return files;
  }

  async function refreshDetail(card) {
    let files;
    try {
      files = await listFiles(card.id);
    } catch (error) {
      return; // no directory yet
    }
    card.files = files;
    card.hasRendered = files.hasRendered;
    const base = (path) => path.slice(path.lastIndexOf("/") + 1);
    const stats = [...files.entries()].filter(([path]) => STATS.test(base(path)));
    const statsKey = stats.map(([path, e]) => `${path}@${e.mtime}:${e.size}`).join("|");
    if (statsKey !== card.statsKey) {
      card.statsKey = statsKey;
      await loadStats(card, stats);
    }
    const videos = [...files.entries()].filter(([path]) => VIDEO.test(base(path)));
    const videosKey = videos.map(([path, e]) => `${path}:${e.size}`).join("|");
    if (videosKey !== card.videosKey) {
      card.videosKey = videosKey;
      showVideos(card, videos);
    }
    if (!card.envID) {
      const manifest = [...files.entries()].find(([path]) => MANIFEST.test(base(path)));
      if (manifest) {
        try {
          const m = await gym.getJSON(manifest[1].url);
          if (m.env_info && m.env_info.env_id) card.envID = m.env_info.env_id;
        } catch (error) { /* not written yet */ }
      }
      if (card.envID && (card.title.textContent === "…" || !card.live)) card.title.textContent = card.envID;
    }
    if (!card.live) {
      if (card.title.textContent === "…") card.title.textContent = "closed instance";
      setLive(card, false);
    }
  }

  async function loadStats(card, stats) {
    const batches = await Promise.all(stats.map(([, entry]) => gym.getJSON(entry.url).catch(() => null)));
    const episodes = [];
    for (const batch of batches) {
      if (!batch || !Array.isArray(batch.episode_rewards)) continue;
      batch.episode_rewards.forEach((reward, i) => {
        episodes.push({
          reward,
          length: (batch.episode_lengths || [])[i],
          time: (batch.timestamps || [])[i] || 0,
        });
      });
    }
    episodes.sort((a, b) => a.time - b.time);
    card.episodes = episodes;
    if (episodes.length === 0) {
      showNoEpisodes(card, "The monitor is on; the plot starts when the first episode ends.");
      return;
    }
    if (!card.plotBox.contains(card.canvas)) {
      card.plotBox.replaceChildren(card.canvas, el("div", { class: "legend" },
        el("span", {}, el("span", { class: "key", style: "background: var(--plot-line)" }), "reward"),
        card.meanKey = el("span", {}, el("span", { class: "key", style: "background: var(--plot-mean)" }), "moving mean"),
        card.hover = el("span", { class: "mono" }, "")));
      card.canvas.addEventListener("mousemove", (event) => hover(card, event));
      card.canvas.addEventListener("mouseleave", () => { card.hoverIndex = null; drawPlot(card); });
    }
    const rewards = episodes.map((e) => e.reward);
    const last = rewards[rewards.length - 1];
    const best = Math.max(...rewards);
    card.plotAside.textContent = `${episodes.length} episode${episodes.length === 1 ? "" : "s"} · last ${gym.formatNumber(last)} · best ${gym.formatNumber(best)}`;
    card.node.dataset.episodes = String(episodes.length);
    card.meanKey.hidden = episodes.length < 4;
    drawPlot(card);
  }

  function showNoEpisodes(card, text) {
    card.plotBox.replaceChildren(el("div", { class: "nodata" }, text));
    card.plotAside.textContent = "";
  }

  function showVideos(card, videos) {
    const list = videos
      .map(([path, entry]) => ({ path, entry, episode: Number(VIDEO.exec(entry.name)[3]) }))
      .sort((a, b) => a.episode - b.episode);
    card.videoAside.textContent = list.length ? `${list.length} recorded` : "";
    if (list.length === 0) {
      card.videoBox.replaceChildren(el("div", { class: "none" }, "No videos yet."));
      card.currentVideo = null;
      return;
    }
    let player = card.videoBox.querySelector("video");
    if (!player) {
      player = el("video", { controls: true, muted: true, playsinline: true, preload: "metadata" });
      player.addEventListener("error", () => {
        const message = card.videoBox.querySelector(".none") || el("div", { class: "none" });
        message.textContent = "This video cannot play yet (still being recorded?).";
        card.videoBox.append(message);
      });
      card.videoBox.replaceChildren(player, el("div", { class: "list" }));
    }
    const buttons = card.videoBox.querySelector(".list");
    const choose = (video) => {
      card.currentVideo = video.path;
      const url = `${video.entry.url}?size=${video.entry.size}`;
      if (!player.src.endsWith(url)) player.src = url;
      for (const b of buttons.children) b.classList.toggle("current", b.dataset.path === video.path);
      const stale = card.videoBox.querySelector(".none");
      if (stale) stale.remove();
    };
    buttons.replaceChildren(...list.slice(-24).map((video) =>
      el("button", { type: "button", dataset: { path: video.path }, title: video.entry.name, onclick: () => choose(video) },
        `ep ${video.episode}`)));
    // Keep what plays; otherwise show the newest finished video.
    const current = list.find((v) => v.path === card.currentVideo);
    choose(current || list[list.length > 1 ? list.length - 1 : 0]);
  }

  // MARK: the plot

  function niceStep(span, count) {
    const raw = span / Math.max(count, 1);
    const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * magnitude) return m * magnitude;
    return 10 * magnitude;
  }

  function drawPlot(card) {
    const episodes = card.episodes;
    const canvas = card.canvas;
    if (!episodes || episodes.length === 0 || !canvas.isConnected) return;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const style = getComputedStyle(document.documentElement);
    const colors = {
      line: style.getPropertyValue("--plot-line").trim() || "#2f6fdf",
      mean: style.getPropertyValue("--plot-mean").trim() || "#e07a1f",
      grid: "#eef0f3", axis: "#9aa3ae", text: "#68707c",
    };
    const margin = { left: 46, right: 12, top: 10, bottom: 24 };
    const plotW = width - margin.left - margin.right;
    const plotH = height - margin.top - margin.bottom;
    const rewards = episodes.map((e) => e.reward);
    let low = Math.min(...rewards);
    let high = Math.max(...rewards);
    if (low === high) { low -= 1; high += 1; }
    const yStep = niceStep(high - low, 4);
    low = Math.floor(low / yStep) * yStep;
    high = Math.ceil(high / yStep) * yStep;
    const n = episodes.length;
    const x = (i) => margin.left + (n === 1 ? plotW / 2 : (i / (n - 1)) * plotW);
    const y = (v) => margin.top + plotH - ((v - low) / (high - low)) * plotH;

    g.font = "11px system-ui, sans-serif";
    g.textBaseline = "middle";
    g.textAlign = "right";
    g.lineWidth = 1;
    for (let v = low; v <= high + yStep / 2; v += yStep) {
      const py = Math.round(y(v)) + 0.5;
      g.strokeStyle = colors.grid;
      g.beginPath(); g.moveTo(margin.left, py); g.lineTo(width - margin.right, py); g.stroke();
      g.fillStyle = colors.text;
      g.fillText(gym.formatNumber(Number(v.toPrecision(6))), margin.left - 6, py);
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    const xStep = Math.max(1, niceStep(Math.max(n - 1, 1), Math.max(2, Math.floor(plotW / 70))));
    for (let i = 0; i < n; i += xStep) {
      g.fillStyle = colors.text;
      g.fillText(String(i), x(i), height - margin.bottom + 6);
    }
    g.strokeStyle = colors.axis;
    g.beginPath(); g.moveTo(margin.left + 0.5, margin.top); g.lineTo(margin.left + 0.5, margin.top + plotH); g.lineTo(width - margin.right, margin.top + plotH + 0.5); g.stroke();

    // Rewards.
    g.strokeStyle = colors.line;
    g.globalAlpha = n > 60 ? 0.55 : 1;
    g.lineWidth = 1.5;
    g.beginPath();
    rewards.forEach((r, i) => (i === 0 ? g.moveTo(x(i), y(r)) : g.lineTo(x(i), y(r))));
    g.stroke();
    g.globalAlpha = 1;
    if (n <= 60) {
      g.fillStyle = colors.line;
      rewards.forEach((r, i) => { g.beginPath(); g.arc(x(i), y(r), 2.5, 0, Math.PI * 2); g.fill(); });
    }
    // Moving mean over a tenth of the episodes (at least 2, at most 100).
    if (n >= 4) {
      const span = Math.min(100, Math.max(2, Math.round(n / 10)));
      g.strokeStyle = colors.mean;
      g.lineWidth = 2.2;
      g.beginPath();
      let sum = 0;
      rewards.forEach((r, i) => {
        sum += r;
        if (i >= span) sum -= rewards[i - span];
        const mean = sum / Math.min(i + 1, span);
        if (i === 0) g.moveTo(x(i), y(mean)); else g.lineTo(x(i), y(mean));
      });
      g.stroke();
    }
    if (card.hoverIndex !== null && card.hoverIndex !== undefined && card.hoverIndex < n) {
      const i = card.hoverIndex;
      g.strokeStyle = "rgba(29,35,43,0.35)";
      g.lineWidth = 1;
      g.beginPath(); g.moveTo(Math.round(x(i)) + 0.5, margin.top); g.lineTo(Math.round(x(i)) + 0.5, margin.top + plotH); g.stroke();
      g.fillStyle = colors.line;
      g.beginPath(); g.arc(x(i), y(rewards[i]), 4, 0, Math.PI * 2); g.fill();
    }
  }

  function hover(card, event) {
    const episodes = card.episodes || [];
    if (episodes.length === 0) return;
    const rect = card.canvas.getBoundingClientRect();
    const plotW = rect.width - 46 - 12;
    const t = (event.clientX - rect.left - 46) / Math.max(plotW, 1);
    const i = Math.min(episodes.length - 1, Math.max(0, Math.round(t * (episodes.length - 1))));
    card.hoverIndex = i;
    const e = episodes[i];
    if (card.hover) card.hover.textContent = `episode ${i}: reward ${gym.formatNumber(e.reward)}${e.length !== undefined ? `, ${e.length} steps` : ""}`;
    drawPlot(card);
  }

  // MARK: refreshing

  function place(card, live) {
    const parent = live ? $("live") : $("recorded");
    if (card.node.parentNode !== parent) parent.append(card.node);
  }

  function sortChildren(parent) {
    const nodes = [...parent.children].sort((a, b) => a.dataset.instance.localeCompare(b.dataset.instance));
    nodes.forEach((node, i) => { if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null); });
  }

  async function refresh() {
    let live = null;
    try {
      live = await gym.instances();
      $("api-status").className = "status ok";
      $("api-status").textContent = "API connected";
      notice("");
    } catch (error) {
      $("api-status").className = "status bad";
      if (error.status === 401) {
        $("api-status").textContent = "API key needed";
        notice(`This server needs an API key: open ${location.origin}/?key=YOUR_KEY once in this browser.`, "error");
      } else {
        $("api-status").textContent = "server unreachable";
        notice(`Cannot read the live instances (${error.message}). Recorded directories are still shown.`, "error");
      }
    }
    let directories = [];
    try {
      const root = await gym.getJSON("/_files/?format=json");
      directories = root.entries.filter((e) => e.type === "directory" && gym.instanceIDPattern.test(e.name)).map((e) => e.name);
    } catch (error) { /* no monitor root yet */ }

    const liveNow = live ? Object.keys(live).sort() : liveIDs;
    const all = new Set([...liveNow, ...directories]);
    for (const id of all) {
      if (!cards.has(id)) cards.set(id, makeCard(id));
      const card = cards.get(id);
      const isLive = liveNow.includes(id);
      if (live && live[id] && card.title.textContent !== live[id]) card.title.textContent = live[id];
      if (live && live[id]) card.envID = live[id];
      if (card.live !== isLive || !card.node.parentNode) setLive(card, isLive);
      place(card, isLive);
    }
    for (const [id, card] of cards) {
      if (!all.has(id)) { card.node.remove(); cards.delete(id); }
    }
    sortChildren($("live"));
    sortChildren($("recorded"));
    liveIDs = liveNow;

    $("live-count").textContent = liveIDs.length ? `${liveIDs.length}` : "";
    // Without the list (no key yet, or the server unreachable) nothing is known to be running.
    $("live-empty").hidden = liveIDs.length > 0 || live === null;
    const recorded = $("recorded").children.length;
    $("recorded-section").hidden = recorded === 0;
    $("recorded-count").textContent = recorded ? `${recorded}` : "";

    const key = liveIDs.join(",");
    if (key !== watchedKey) {
      if (watcher) watcher.close();
      watcher = null;
      watchedKey = key;
      if (liveIDs.length) {
        watcher = gym.watch(liveIDs, { maxFps: THUMBNAIL_FPS }, {
          onFrame: showFrame,
          onClosed: (id) => { const card = cards.get(id); if (card) setLive(card, false); },
        });
      }
    }

    // Monitor files: live instances every time, closed ones now and then.
    const now = Date.now();
    await Promise.all([...cards.values()]
      .filter((card) => card.live || now - card.lastDetail > 15000)
      .map((card) => { card.lastDetail = now; return refreshDetail(card); }));
    document.body.dataset.ready = "true";
  }

  async function loop() {
    try { await refresh(); } catch (error) { console.error(error); }
    setTimeout(loop, REFRESH_MS);
  }

  gym.config().then((c) => {
    $("api-address").textContent = `API ${c.api.replace(/\/v1$/, "")}`;
    const key = c.keys_required ? ` -H 'X-API-Key: YOUR_KEY'` : "";
    $("example").textContent =
      `curl -X POST ${c.api}/envs/ -H 'Content-Type: application/json'${key} \\\n     -d '{"env_id": "CartPole-v1"}'`;
  });
  loop();
})();
