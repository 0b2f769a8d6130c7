// The dashboard: every live instance (from /_live/instances) with a live thumbnail (one
// Server-Sent Events stream for all of them), its episodes' rewards plotted from the monitor's
// stats files and its recorded videos, wherever its monitor records; then every recording under
// the monitor root (/_recordings), whichever directory a client named; then the directories of
// instances that are closed but left files behind.
"use strict";

(() => {
  const { el } = gym;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 2000;
  const CLOSED_REFRESH_MS = 15000;
  const THUMBNAIL_FPS = 8;
  const VIDEO = /^openaigym\.video\.(\d+)\.(\d+)\.video(\d+)\.mp4$/;
  const STATS = /^openaigym\.episode_batch\.\d+\.\d+\.stats\.json$/;
  const MANIFEST = /^openaigym\.manifest\.\d+\.\d+\.manifest\.json$/;

  const cards = new Map(); // instance id -> card (live, or closed with files)
  const recordings = new Map(); // directory -> the element of a recording
  const statsCache = new Map(); // stats file url -> {key: "mtime:size", batch: Promise}
  let index = null; // directory -> entry of the last /_recordings, or null without one
  let liveIDs = [];
  let watcher = null;
  let watchedKey = "";

  function notice(text, kind) {
    const box = $("notice");
    box.replaceChildren();
    if (text) box.append(el("div", { class: `notice ${kind || ""}` }, text));
  }

  const baseName = (path) => path.slice(path.lastIndexOf("/") + 1);
  const parentPath = (path) => path.slice(0, Math.max(0, path.lastIndexOf("/")));
  const plural = (n, word) => `${gym.formatNumber(n)} ${word}${n === 1 ? "" : "s"}`;
  const zipName = (directory) => `${directory.replace(/\//g, "_")}.zip`;
  const recordingAnchor = (directory) => `recording-${directory}`;

  /** "12 s ago", "5 min ago", "3 h ago", "2 days ago", or the date past a month. */
  function ago(seconds) {
    const elapsed = Math.max(0, Date.now() / 1000 - seconds);
    if (elapsed < 2) return "just now";
    if (elapsed < 60) return `${Math.floor(elapsed)} s ago`;
    if (elapsed < 3600) return `${Math.floor(elapsed / 60)} min ago`;
    if (elapsed < 86400) return `${Math.floor(elapsed / 3600)} h ago`;
    if (elapsed < 30 * 86400) return plural(Math.floor(elapsed / 86400), "day") + " ago";
    return new Date(seconds * 1000).toLocaleDateString();
  }

  // MARK: one directory's episodes: the plot and the videos

  /**
   * The reward plot and the videos of one monitor directory, as a live card and a recording both
   * show them. `owner` is the element that carries data-episodes (the episodes plotted);
   * `emptyText` is said when the directory has no episode, `waitingText` until it is read.
   */
  function makeEpisodes(owner, emptyText, waitingText) {
    const view = { owner, emptyText, statsKey: null, videosKey: "", episodes: null, currentVideo: null, hoverIndex: null };
    view.canvas = el("canvas", { width: 600, height: 170 });
    view.plotAside = el("span", { class: "aside" }, "");
    view.plotBox = el("div", { class: "plot" });
    view.videoAside = el("span", { class: "aside" }, "");
    view.videoBox = el("div", { class: "videos" });
    view.node = el("div", { class: "episodes" },
      el("div", {}, el("div", { class: "label" }, "Reward per episode", view.plotAside), view.plotBox),
      el("div", {}, el("div", { class: "label" }, "Videos", view.videoAside), view.videoBox));
    showNoEpisodes(view, waitingText || emptyText);
    view.videoBox.append(el("div", { class: "none" }, waitingText ? "" : "No videos yet."));
    return view;
  }

  /** Every view on the page: the cards' and the recordings'. */
  const allEpisodes = () => [...[...cards.values()].map((c) => c.episodes), ...[...recordings.values()].map((r) => r.episodes)];
  window.addEventListener("resize", () => allEpisodes().forEach(drawPlot));

  /** Forgets what a view showed, for a directory of its own (a monitor started elsewhere). */
  function resetEpisodes(view, emptyText) {
    view.emptyText = emptyText;
    view.statsKey = null;
    view.videosKey = null;
    view.episodes = null;
    view.currentVideo = null;
    delete view.owner.dataset.episodes;
    showNoEpisodes(view, emptyText);
  }

  /**
   * Shows a directory's monitor files, {stats: [{url, size, mtime}], videos: [{url, size, mtime,
   * episode, name}]}: reads the stats files that changed since, replaces the videos when they did.
   */
  async function showEpisodes(view, files) {
    const statsKey = files.stats.map((f) => `${f.url}@${f.mtime}:${f.size}`).join("|");
    const videosKey = files.videos.map((f) => `${f.url}:${f.size}`).join("|");
    if (videosKey !== view.videosKey) {
      view.videosKey = videosKey;
      showVideos(view, files.videos);
    }
    if (statsKey !== view.statsKey) {
      view.statsKey = statsKey;
      view.statsURLs = files.stats.map((f) => f.url);
      await loadStats(view, files.stats, statsKey);
    }
  }

  /** A stats file's JSON, fetched once per modification time and size (shared by every view). */
  function readStats(file) {
    const key = `${file.mtime}:${file.size}`;
    const cached = statsCache.get(file.url);
    if (cached && cached.key === key) return cached.batch;
    const batch = gym.getJSON(file.url).catch(() => {
      statsCache.delete(file.url);
      return null;
    });
    statsCache.set(file.url, { key, batch });
    return batch;
  }

  async function loadStats(view, stats, statsKey) {
    const batches = await Promise.all(stats.map(readStats));
    if (view.statsKey !== statsKey) return; // newer files came meanwhile
    if (batches.includes(null)) view.statsKey = null; // read again next time
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
    view.episodes = episodes;
    view.owner.dataset.episodes = String(episodes.length);
    if (episodes.length === 0) {
      showNoEpisodes(view, view.emptyText);
      return;
    }
    if (!view.plotBox.contains(view.canvas)) {
      view.plotBox.replaceChildren(view.canvas, el("div", { class: "legend" },
        el("span", {}, el("span", { class: "key", style: "background: var(--plot-line)" }), "reward"),
        view.meanKey = el("span", {}, el("span", { class: "key", style: "background: var(--plot-mean)" }), "moving mean"),
        view.hover = el("span", { class: "mono" }, "")));
      view.canvas.onmousemove = (event) => hover(view, event);
      view.canvas.onmouseleave = () => { view.hoverIndex = null; drawPlot(view); };
    }
    const rewards = episodes.map((e) => e.reward);
    const last = rewards[rewards.length - 1];
    const best = Math.max(...rewards);
    view.plotAside.textContent = `${plural(episodes.length, "episode")} · last ${gym.formatNumber(last)} · best ${gym.formatNumber(best)}`;
    view.meanKey.hidden = episodes.length < 4;
    drawPlot(view);
  }

  function showNoEpisodes(view, text) {
    view.plotBox.replaceChildren(el("div", { class: "nodata" }, text));
    view.plotAside.textContent = "";
  }

  function showVideos(view, videos) {
    const list = [...videos].sort((a, b) => a.episode - b.episode);
    view.videoAside.textContent = list.length ? `${list.length} recorded` : "";
    if (list.length === 0) {
      view.videoBox.replaceChildren(el("div", { class: "none" }, "No videos yet."));
      view.currentVideo = null;
      return;
    }
    let player = view.videoBox.querySelector("video");
    if (!player) {
      player = el("video", { controls: true, muted: true, playsinline: true, preload: "metadata" });
      player.addEventListener("error", () => {
        const message = view.videoBox.querySelector(".none") || el("div", { class: "none" });
        message.textContent = "This video cannot play yet (still being recorded?).";
        view.videoBox.append(message);
      });
      view.videoBox.replaceChildren(player, el("div", { class: "list" }));
    }
    const buttons = view.videoBox.querySelector(".list");
    const choose = (video) => {
      view.currentVideo = video.url;
      const url = `${video.url}?size=${video.size}`;
      if (!player.src.endsWith(url)) player.src = url;
      for (const b of buttons.children) b.classList.toggle("current", b.dataset.url === video.url);
      const stale = view.videoBox.querySelector(".none");
      if (stale) stale.remove();
    };
    buttons.replaceChildren(...list.slice(-24).map((video) =>
      el("button", { type: "button", dataset: { url: video.url }, title: video.name, onclick: () => choose(video) },
        `ep ${video.episode}`)));
    // Keep what plays; otherwise show the newest finished video.
    const current = list.find((v) => v.url === view.currentVideo);
    choose(current || list[list.length - 1]);
  }

  /** The monitor files among listing entries ({path: entry}): {stats, videos, manifest}. */
  function monitorFiles(entries) {
    const files = { stats: [], videos: [], manifest: null };
    for (const [path, entry] of entries) {
      const name = baseName(path);
      const video = VIDEO.exec(name);
      if (STATS.test(name)) files.stats.push(entry);
      else if (video) files.videos.push(Object.assign({ episode: Number(video[3]) }, entry));
      else if (MANIFEST.test(name) && !files.manifest) files.manifest = entry;
    }
    return files;
  }

  /**
   * A directory's monitor files: from /_recordings when it lists the directory, else from its
   * listing (an older server, or a search cut short).
   */
  async function directoryFiles(directory) {
    const entry = index && index.get(directory);
    if (entry) return { stats: entry.stats, videos: entry.videos, envID: entry.env_id };
    const listing = await gym.getJSON(`${gym.pathURL(directory)}/?format=json`);
    return monitorFiles(listing.entries.filter((e) => e.type === "file").map((e) => [e.name, e]));
  }

  // MARK: the plot

  function niceStep(span, count) {
    const raw = span / Math.max(count, 1);
    const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * magnitude) return m * magnitude;
    return 10 * magnitude;
  }

  function drawPlot(view) {
    const episodes = view.episodes;
    const canvas = view.canvas;
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
    const xStep = Math.max(1, Math.ceil(niceStep(Math.max(n - 1, 1), Math.max(2, Math.floor(plotW / 70)))));
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
    if (view.hoverIndex !== null && view.hoverIndex !== undefined && view.hoverIndex < n) {
      const i = view.hoverIndex;
      g.strokeStyle = "rgba(29,35,43,0.35)";
      g.lineWidth = 1;
      g.beginPath(); g.moveTo(Math.round(x(i)) + 0.5, margin.top); g.lineTo(Math.round(x(i)) + 0.5, margin.top + plotH); g.stroke();
      g.fillStyle = colors.line;
      g.beginPath(); g.arc(x(i), y(rewards[i]), 4, 0, Math.PI * 2); g.fill();
    }
  }

  function hover(view, event) {
    const episodes = view.episodes || [];
    if (episodes.length === 0) return;
    const rect = view.canvas.getBoundingClientRect();
    const plotW = rect.width - 46 - 12;
    const t = (event.clientX - rect.left - 46) / Math.max(plotW, 1);
    const i = Math.min(episodes.length - 1, Math.max(0, Math.round(t * (episodes.length - 1))));
    view.hoverIndex = i;
    const e = episodes[i];
    if (view.hover) view.hover.textContent = `episode ${i}: reward ${gym.formatNumber(e.reward)}${e.length !== undefined ? `, ${e.length} steps` : ""}`;
    drawPlot(view);
  }

  // MARK: instance cards

  const NO_MONITOR = "No episodes recorded yet: start the monitor (POST /v1/envs/<id>/monitor/start/) and finish an episode.";

  function makeCard(id) {
    const card = { id, live: false, envID: null, directory: null, monitor: null, lastDetail: 0 };
    card.title = el("h2", {}, "…");
    card.badge = el("span", { class: "badge" }, "");
    card.image = el("img", { alt: `Latest frame of ${id}`, hidden: true });
    card.waiting = el("div", { class: "waiting" }, "waiting for a frame…");
    card.chips = el("div", { class: "overlay" });
    card.thumb = el("a", { class: "thumb", href: `/render.html?instance_id=${encodeURIComponent(id)}`, title: "Open the live view" },
      card.image, card.waiting, card.chips);
    card.where = el("div", { class: "where", hidden: true });
    card.seeAlso = el("div", { class: "where", hidden: true });
    card.node = el("article", { class: "card", dataset: { instance: id } });
    card.episodes = makeEpisodes(card.node, NO_MONITOR);
    card.node.append(
      el("header", {}, card.title, el("code", {}, id), card.badge),
      card.thumb,
      el("div", { class: "body" }, card.where, card.seeAlso, card.episodes.node),
      el("footer", {},
        card.liveLink = el("a", { class: "button primary", href: `/render.html?instance_id=${encodeURIComponent(id)}` }, "Live view"),
        card.filesLink = el("a", { class: "button", href: `/${encodeURIComponent(id)}/` }, "Files"),
        card.zipLink = el("a", { class: "button", href: `/${encodeURIComponent(id)}.zip`, download: `${id}.zip` }, "Download .zip")));
    return card;
  }

  function setLive(card, live) {
    if (card.live && !live) card.lastDetail = 0; // closed just now: look at what it left at once
    card.live = live;
    card.badge.className = `badge ${live ? "live" : "closed"}`;
    card.badge.textContent = live ? "live" : "closed";
    card.liveLink.hidden = !live;
    card.thumb.href = live ? `/render.html?instance_id=${encodeURIComponent(card.id)}` : `/${encodeURIComponent(card.id)}/rendered/`;
    if (!live) setMonitor(card, null);
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

  /**
   * Points a card at the directory its monitor records into ({directory, recording, episodes}
   * of /_live/instances), or back at the instance's own folder (null).
   */
  function setMonitor(card, monitor) {
    card.monitor = monitor;
    if (monitor) card.recordedInto = monitor.directory; // still linked to once the instance is closed
    const directory = monitor ? monitor.directory : null;
    if (directory !== card.directory) {
      card.directory = directory;
      const folder = directory === null ? encodeURIComponent(card.id) : gym.pathURL(directory).slice(1);
      card.filesLink.href = `/${folder}/`;
      card.zipLink.href = `/${folder}.zip`;
      card.zipLink.download = directory === null ? `${card.id}.zip` : zipName(directory);
      card.node.dataset.directory = directory || "";
      resetEpisodes(card.episodes, directory === null ? NO_MONITOR
        : `The monitor records into ${directory}; the plot starts when its first episode ends.`);
    }
    card.where.hidden = !monitor;
    const whereKey = monitor ? `${monitor.directory}|${monitor.recording}` : "";
    if (monitor && whereKey !== card.whereKey) {
      card.where.replaceChildren("Monitor: ",
        el("a", { href: `${gym.pathURL(monitor.directory)}/`, class: "mono" }, monitor.directory),
        el("span", { class: monitor.recording ? "state rec" : "state" }, monitor.recording ? "recording" : "not recording"));
    }
    card.whereKey = whereKey;
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

  /**
   * Files of an instance's own directory, two levels deep: {"simulation/openaigym...": entry}.
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

  async function refreshCard(card) {
    if (card.directory !== null) {
      // Wherever the monitor records: runs/cartpole, tmp/random-agent-results, <id>/simulation.
      try {
        await showEpisodes(card.episodes, await directoryFiles(card.directory));
      } catch (error) { /* not made yet */ }
      return;
    }
    let files;
    try {
      files = await listFiles(card.id);
    } catch (error) {
      return; // no directory yet
    }
    card.hasRendered = files.hasRendered;
    // Subdirectories shown under Recordings already are linked to, not drawn a second time.
    const shown = (path) => {
      const directory = parentPath(path) ? `${card.id}/${parentPath(path)}` : card.id;
      return index && index.has(directory) ? directory : null;
    };
    const elsewhere = [...new Set([...files.keys()].map(shown).filter((d) => d !== null))].sort();
    if (card.recordedInto && index && index.has(card.recordedInto) && !elsewhere.includes(card.recordedInto)) {
      elsewhere.push(card.recordedInto);
    }
    const own = monitorFiles([...files].filter(([path]) => shown(path) === null));
    await showEpisodes(card.episodes, own);
    const hasOwn = own.stats.length > 0 || own.videos.length > 0;
    // A closed instance can start no monitor: without files of its own, no empty plot.
    card.episodes.node.hidden = !card.live && !hasOwn;
    card.seeAlso.hidden = elsewhere.length === 0;
    card.seeAlso.replaceChildren("Its episodes are under Recordings: ",
      ...elsewhere.flatMap((d, i) => [i ? ", " : "", el("a", { href: `#${recordingAnchor(d)}`, class: "mono" }, d)]));
    // A closed instance with nothing but a recording listed there is not shown twice.
    card.node.hidden = !card.live && !card.hasRendered && !hasOwn && elsewhere.length > 0;
    if (!card.envID) {
      const manifest = own.manifest || monitorFiles([...files]).manifest;
      const listed = elsewhere.map((d) => index.get(d).env_id).find((e) => e);
      if (listed) card.envID = listed;
      else if (manifest) {
        try {
          const m = await gym.getJSON(manifest.url);
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

  // MARK: recordings

  /** Recordings load their plot and videos once near the screen: a long list costs nothing more. */
  const nearScreen = "IntersectionObserver" in window
    ? new IntersectionObserver((seen) => {
      for (const entry of seen) {
        if (!entry.isIntersecting) continue;
        nearScreen.unobserve(entry.target);
        const recording = recordings.get(entry.target.dataset.directory);
        if (recording) {
          recording.active = true;
          refreshRecording(recording);
        }
      }
    }, { rootMargin: "400px 0px" })
    : null;

  function makeRecording(directory) {
    const url = gym.pathURL(directory);
    const recording = { directory, entry: null, active: nearScreen === null };
    recording.node = el("article", { class: "card recording", id: recordingAnchor(directory), dataset: { directory } });
    recording.envID = el("span", { class: "env" }, "");
    recording.badge = el("span", { class: "badge rec", hidden: true }, "recording");
    recording.count = el("span", {}, "");
    recording.time = el("time", {}, "");
    recording.by = el("span", { hidden: true });
    recording.episodes = makeEpisodes(recording.node, "No episode has ended here yet.", "loading…");
    recording.liveLink = el("a", { class: "button primary", hidden: true }, "Live view");
    recording.zipLink = el("a", { class: "button", href: `${url}.zip`, download: zipName(directory) }, "Download .zip");
    recording.node.append(
      el("header", {}, el("h2", { class: "directory", title: directory }, el("a", { href: `${url}/` }, directory)), recording.badge),
      el("div", { class: "facts" }, recording.envID, recording.count, recording.time, recording.by),
      el("div", { class: "body" }, recording.episodes.node),
      el("footer", {},
        recording.liveLink,
        el("a", { class: "button", href: `${url}/` }, "Files"),
        recording.zipLink));
    if (nearScreen) nearScreen.observe(recording.node);
    return recording;
  }

  /** What /_recordings says of a recording: its facts now, its plot and videos once seen. */
  function updateRecording(recording, entry) {
    recording.entry = entry;
    const node = recording.node;
    node.dataset.recording = String(entry.recording);
    node.dataset.listedEpisodes = String(entry.episodes);
    recording.envID.textContent = entry.env_id || "environment not named yet";
    recording.envID.classList.toggle("unknown", !entry.env_id);
    recording.count.textContent = plural(entry.episodes, "episode");
    const date = new Date(entry.last_write * 1000);
    recording.time.textContent = entry.last_write ? `written ${ago(entry.last_write)}` : "no file yet";
    recording.time.title = entry.last_write ? date.toLocaleString() : "";
    if (entry.last_write) recording.time.dateTime = date.toISOString();
    recording.zipLink.href = entry.zip || `${gym.pathURL(recording.directory)}.zip`;
    recording.badge.hidden = !entry.recording;
    const live = entry.recording && entry.instance_id;
    recording.liveLink.hidden = !live;
    recording.by.hidden = !live;
    if (live) {
      const href = `/render.html?instance_id=${encodeURIComponent(entry.instance_id)}`;
      recording.liveLink.href = href;
      node.dataset.recordedBy = entry.instance_id;
      recording.by.replaceChildren("by ", el("a", { href, class: "mono", title: "Open the live view" }, entry.instance_id));
    } else {
      delete node.dataset.recordedBy;
    }
  }

  async function refreshRecording(recording) {
    if (!recording.active || !recording.entry) return;
    const entry = recording.entry;
    await showEpisodes(recording.episodes, { stats: entry.stats, videos: entry.videos });
  }

  /** Builds, updates and orders the Recordings section from a /_recordings answer. */
  function showRecordings(answer) {
    const list = answer ? answer.recordings || [] : [];
    const parent = $("recordings");
    const listed = new Set();
    list.forEach((entry, i) => {
      listed.add(entry.directory);
      if (!recordings.has(entry.directory)) recordings.set(entry.directory, makeRecording(entry.directory));
      const recording = recordings.get(entry.directory);
      updateRecording(recording, entry);
      // Newest write first, as listed; a node moves only when it must.
      if (parent.children[i] !== recording.node) parent.insertBefore(recording.node, parent.children[i] || null);
    });
    for (const [directory, recording] of recordings) {
      if (listed.has(directory)) continue;
      if (nearScreen) nearScreen.unobserve(recording.node);
      recording.node.remove();
      recordings.delete(directory);
    }
    $("recordings-section").hidden = list.length === 0;
    $("recordings-count").textContent = list.length ? `${list.length}` : "";
    $("recordings-truncated").hidden = !(answer && answer.truncated);
  }

  /** Drops the cached stats files no view shows any more. */
  function pruneStatsCache() {
    const used = new Set(allEpisodes().flatMap((view) => view.statsURLs || []));
    for (const url of statsCache.keys()) if (!used.has(url)) statsCache.delete(url);
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
    // The three lists at once: live instances with their monitors, recordings, the root's folders.
    const [live, recorded, root] = await Promise.all([
      gym.live().catch((error) => error),
      gym.getJSON("/_recordings").catch(() => null), // an older server, or no key yet
      gym.getJSON("/_files/?format=json").catch(() => null), // no monitor root yet
    ]);
    if (live instanceof Error) {
      $("api-status").className = "status bad";
      if (live.status === 401) {
        $("api-status").textContent = "API key needed";
        notice(`This server needs an API key: open ${location.origin}/?key=YOUR_KEY once in this browser.`, "error");
      } else {
        $("api-status").textContent = "server unreachable";
        notice(`Cannot read the live instances (${live.message}). Recorded directories are still shown.`, "error");
      }
    } else {
      $("api-status").className = "status ok";
      $("api-status").textContent = "API connected";
      notice("");
    }
    const envs = live instanceof Error ? null : live.all_envs;
    const monitors = live instanceof Error ? {} : live.monitors;
    index = recorded ? new Map((recorded.recordings || []).map((r) => [r.directory, r])) : null;
    const directories = root
      ? root.entries.filter((e) => e.type === "directory" && gym.instanceIDPattern.test(e.name)).map((e) => e.name)
      : [];

    const liveNow = envs ? Object.keys(envs).sort() : liveIDs;
    const all = new Set([...liveNow, ...directories]);
    for (const id of all) {
      if (!cards.has(id)) cards.set(id, makeCard(id));
      const card = cards.get(id);
      const isLive = liveNow.includes(id);
      if (envs && envs[id] && card.title.textContent !== envs[id]) card.title.textContent = envs[id];
      if (envs && envs[id]) card.envID = envs[id];
      if (card.live !== isLive || !card.node.parentNode) setLive(card, isLive);
      if (isLive && envs) setMonitor(card, monitors[id] || null);
      place(card, isLive);
    }
    for (const [id, card] of cards) {
      if (!all.has(id)) { card.node.remove(); cards.delete(id); }
    }
    sortChildren($("live"));
    sortChildren($("recorded"));
    liveIDs = liveNow;
    showRecordings(recorded);

    $("live-count").textContent = liveIDs.length ? `${liveIDs.length}` : "";
    // Without the list (no key yet, or the server unreachable) nothing is known to be running.
    $("live-empty").hidden = liveIDs.length > 0 || envs === null;

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

    // Monitor files: live instances and recordings on screen every time (a stats file is read
    // again only when it changed), closed instances now and then.
    const now = Date.now();
    await Promise.all([
      ...[...cards.values()]
        .filter((card) => card.live || now - card.lastDetail > CLOSED_REFRESH_MS)
        .map((card) => { card.lastDetail = now; return refreshCard(card); }),
      ...[...recordings.values()].map(refreshRecording),
    ]);
    pruneStatsCache();
    const closed = [...$("recorded").children].filter((node) => !node.hidden).length;
    $("recorded-section").hidden = closed === 0;
    $("recorded-count").textContent = closed ? `${closed}` : "";
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
