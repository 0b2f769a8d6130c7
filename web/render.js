// The live view: /render.html?instance_id=<id> shows that instance's frames as they are rendered,
// pushed by the server over Server-Sent Events (no polling). Without an id: a list to pick from.
"use strict";

(() => {
  const { el } = gym;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const id = (params.get("instance_id") || "").trim();

  function notice(text, kind) {
    const box = $("notice");
    box.replaceChildren();
    if (text) box.append(el("div", { class: `notice ${kind || ""}` }, text));
  }

  function setConnection(state) {
    const badge = $("connection");
    const labels = { open: ["ok", "live"], connecting: ["wait", "connecting…"], error: ["bad", "disconnected"], closed: ["bad", "instance closed"] };
    const [kind, label] = labels[state] || labels.connecting;
    badge.className = `status ${kind}`;
    badge.textContent = label;
  }

  async function showPicker() {
    $("picker").hidden = false;
    $("connection").hidden = true;
    const list = $("picker-list");
    try {
      const all = await gym.instances();
      const ids = Object.keys(all).sort();
      if (ids.length === 0) {
        list.append(el("li", { class: "empty-state" }, "No instances yet. Create one through the API, then come back."));
      }
      for (const instance of ids) {
        list.append(el("li", {}, el("a", { href: `/render.html?instance_id=${encodeURIComponent(instance)}` },
          el("strong", {}, all[instance]), el("code", {}, instance))));
      }
    } catch (error) {
      if (error.status === 401) {
        notice(`This server needs an API key: open ${location.origin}/render.html?key=YOUR_KEY once in this browser.`, "error");
      } else {
        notice(`Could not list the instances (${error.message}). Open /render.html?instance_id=<id>.`, "error");
      }
    }
  }

  function showInstance() {
    $("viewer").hidden = false;
    $("crumb").textContent = id;
    $("instance-id").textContent = id;
    $("files-link").href = `/${encodeURIComponent(id)}/`;
    $("zip-link").href = `/${encodeURIComponent(id)}.zip`;
    document.title = `${id} · gym-server live view`;

    const image = $("frame");
    let shown = 0;
    const arrivals = [];
    let closed = false;

    function updateFPS() {
      const now = performance.now();
      while (arrivals.length && now - arrivals[0] > 2000) arrivals.shift();
      $("fps").textContent = arrivals.length > 1 ? (arrivals.length / 2).toFixed(1) : "–";
    }
    setInterval(updateFPS, 500);

    gym.watch([id], {}, {
      onState: (state) => { if (!closed) setConnection(state); },
      onHello: (instances) => {
        const info = instances[id];
        if (info) {
          $("env-id").textContent = info.env_id;
          document.title = `${info.env_id} ${id} · gym-server live view`;
        } else {
          notice(`No instance ${id} is running now. This page shows its frames if it appears; its recorded files may still be in /${id}/.`);
        }
      },
      onFrame: (status, url) => {
        closed = false;
        notice("");
        image.src = url;
        image.hidden = false;
        $("waiting").hidden = true;
        shown += 1;
        arrivals.push(performance.now());
        $("env-id").textContent = status.env_id;
        $("episode").textContent = gym.formatNumber(status.episode);
        $("step").textContent = gym.formatNumber(status.step);
        $("reward").textContent = gym.formatNumber(status.episode_reward, 3);
        $("frame-number").textContent = status.frame_number === null ? "not on disk" : `rendered/${status.frame_number}.png`;
        $("frames-shown").textContent = gym.formatNumber(shown);
        image.dataset.seq = status.seq;
        document.body.dataset.frames = String(shown);
        document.body.dataset.step = String(status.step);
        document.body.dataset.episode = String(status.episode);
      },
      onClosed: () => {
        closed = true;
        setConnection("closed");
        notice(`Instance ${id} was closed. Its files stay in /${id}/.`);
      },
    });
  }

  if (id) showInstance();
  else showPicker();
})();
