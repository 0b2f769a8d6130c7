// gym-server: what the dashboard and the live view share. Plain JavaScript, no dependencies.
"use strict";

const gym = (() => {
  /** Creates an element: el("a", {href: "/x", class: "button"}, "text", child...). */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** JSON of a GET, or throws with the status. */
  async function getJSON(url, options) {
    const response = await fetch(url, Object.assign({ headers: { Accept: "application/json" }, cache: "no-cache" }, options));
    if (!response.ok) {
      const error = new Error(`${response.status} ${response.statusText} for ${url}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  let configPromise = null;
  /** Where the API is: /config.json gives its port; the host is the one this page came from. */
  function config() {
    if (!configPromise) {
      configPromise = getJSON("/config.json")
        .catch(() => ({ api_port: 5000, api_prefix: "/v1" }))
        .then((c) => {
          const host = location.hostname.includes(":") ? `[${location.hostname}]` : location.hostname;
          c.api = `${location.protocol}//${host}:${c.api_port}${c.api_prefix || "/v1"}`;
          return c;
        });
    }
    return configPromise;
  }

  /**
   * The live instances and their monitors, from this port's /_live/instances (the same list as
   * the API's GET /v1/envs/; with API keys, the key's own): {all_envs: {instance_id: env_id},
   * monitors: {instance_id: {directory, recording, episodes}}}, monitors naming only the
   * instances that started one (its latest), directory relative to this port's root. Throws with
   * status 401 when the server needs a key and the browser has none yet.
   */
  async function live() {
    const answer = await getJSON("/_live/instances");
    return { all_envs: answer.all_envs || {}, monitors: answer.monitors || {} };
  }

  /** The live instances, {instance_id: env_id} (see live()). */
  async function instances() {
    return (await live()).all_envs;
  }

  /** The address on this port of a directory relative to its root ("runs/a b" -> "/runs/a%20b"). */
  function pathURL(directory) {
    return "/" + directory.split("/").filter((part) => part !== "").map(encodeURIComponent).join("/");
  }

  /**
   * Watches instances over Server-Sent Events. handlers: onHello(instances), onFrame(status,
   * dataURL), onClosed(id), onState("open" | "connecting" | "error"). Returns {close()}.
   * Behind a fleet's front (config.json's fleet: true) the instances of each replica (the first
   * two hex characters of their ids) are watched on a stream of their own, which the front sends
   * to that replica.
   */
  function watch(ids, options, handlers) {
    let sources = [];
    let closed = false;
    const open = (groups) => {
      if (!closed) sources = groups.map((group) => stream(group, options, handlers));
    };
    config().then((c) => open(c.fleet ? byReplica(ids) : [ids]), () => open([ids]));
    return { close: () => { closed = true; sources.forEach((source) => source.close()); } };
  }

  /** ids grouped by the replica their first two characters name, in first-seen order. */
  function byReplica(ids) {
    const groups = new Map();
    for (const id of ids) {
      const replica = id.slice(0, 2);
      if (!groups.has(replica)) groups.set(replica, []);
      groups.get(replica).push(id);
    }
    return [...groups.values()];
  }

  function stream(ids, options, handlers) {
    const params = new URLSearchParams();
    params.set("instance_id", ids.join(","));
    if (options && options.maxFps) params.set("max_fps", String(options.maxFps));
    const source = new EventSource(`/_live/events?${params}`);
    const state = (s) => handlers.onState && handlers.onState(s);
    state("connecting");
    source.onopen = () => state("open");
    source.onerror = () => state(source.readyState === EventSource.CLOSED ? "error" : "connecting");
    source.addEventListener("hello", (event) => {
      state("open");
      if (handlers.onHello) handlers.onHello(JSON.parse(event.data).instances || {});
    });
    source.addEventListener("frame", (event) => {
      const status = JSON.parse(event.data);
      const url = `data:image/png;base64,${status.png}`;
      delete status.png;
      if (handlers.onFrame) handlers.onFrame(status, url);
    });
    source.addEventListener("closed", (event) => {
      if (handlers.onClosed) handlers.onClosed(JSON.parse(event.data).instance_id);
    });
    return source;
  }

  function formatNumber(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    return value.toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 2 : digits });
  }

  function formatBytes(bytes) {
    if (bytes === null || bytes === undefined) return "";
    const units = ["B", "KiB", "MiB", "GiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
  }

  /** Instance ids: 8 hex digits (the REST API's), or 32 (the WebSocket's, as Gymie makes them). */
  const instanceIDPattern = /^([0-9a-f]{8}|[0-9a-f]{32})$/;

  return { el, getJSON, config, live, instances, pathURL, watch, formatNumber, formatBytes, instanceIDPattern };
})();
