"""What a gym-server instance offers beyond Gymnasium's API: the monitor (statistics and videos
recorded on the server) and the pages of the files port that show the instance."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np

from .errors import ProtocolError
from .transport import HttpApi, instance_path, normalise_url

DEFAULT_FILES_PORT = 8000


class RecordedInstance:
    """The monitor and the web view of one server instance, shared by RemoteEnv and
    RemoteVectorEnv (whose monitor films sub-environment 0 and counts every sub-episode)."""

    _api: HttpApi
    instance_id: str
    _files_url: str | None = None  # given, or learnt from the server on first use

    @property
    def files_url(self) -> str:
        """The files port's URL: the one given at construction, else the API's host on the port
        the server's ``GET /healthz`` says its files port listens on (8000 if it does not say)."""
        if self._files_url is None:
            self._files_url = files_url_for(self._api.url, None, self._files_port())
        return self._files_url

    @files_url.setter
    def files_url(self, value: str | None) -> None:
        self._files_url = None if value is None else normalise_url(value)

    def _files_port(self) -> int | None:
        try:
            health = self._api.request("GET", "/healthz")
        except Exception:  # an older server, or one that went away: the default port
            return None
        files = health.get("files_port") if isinstance(health, dict) else None
        port = files.get("port") if isinstance(files, dict) else None
        return port if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536 else None

    def _check_open(self) -> None:
        raise NotImplementedError

    def start_monitor(
        self,
        directory: str | None = None,
        force: bool = False,
        resume: bool = False,
        video_callable: bool | int | None = None,
    ) -> dict[str, Any]:
        """POST monitor/start/: record statistics (and videos) as old gym's Monitor did.

        ``directory`` is relative to the server's monitor root (default
        ``<instance_id>/simulation``); ``force`` clears earlier monitor files there (the server
        wants the directory named then), ``resume`` adds to them; ``video_callable``:
        ``None``/``True`` old gym's schedule (episodes 0, 1, 8, 27, ..., 1000, then every
        1000), ``False`` no video, ``N`` every N-th episode. A Python callable cannot be sent
        to the server.

        Returns ``{"directory": ..., "url": ...}``: where the files go, relative to the
        monitor root, and that folder on the files port (where the videos can be watched).
        """
        self._check_open()
        body = monitor_request(directory, force, resume, video_callable)
        return monitor_place(self._api.request("POST", instance_path(self.instance_id, "monitor/start/"), body=body))

    def close_monitor(self) -> None:
        """POST monitor/close/: finish the open video, write the statistics and manifest."""
        self._check_open()
        self._api.request("POST", instance_path(self.instance_id, "monitor/close/"))

    @property
    def live_view_url(self) -> str:
        """The page that shows this instance live: ``<files_url>/render.html?instance_id=<id>``
        (with ``&key=<api_key>`` when the client has a key: the page then keeps it in a cookie
        and drops it from the address)."""
        return self._files_page("render.html", instance_id=self.instance_id)

    @property
    def dashboard_url(self) -> str:
        """The dashboard on the files port: every instance, its episodes and its videos."""
        return self._files_page("")

    def _files_page(self, page: str, **query: str) -> str:
        if self._api.api_key is not None:
            query["key"] = self._api.api_key
        return f"{self.files_url}/{page}" + (f"?{urlencode(query)}" if query else "")


def monitor_request(
    directory: str | None, force: bool, resume: bool, video_callable: bool | int | None
) -> dict[str, Any]:
    """The body of monitor/start/ for :meth:`RecordedInstance.start_monitor`'s arguments,
    checked."""
    body: dict[str, Any] = {}
    if directory is not None:
        if not isinstance(directory, str) or not directory:
            raise TypeError(f"directory must be a non-empty string (relative to the monitor root), got {directory!r}")
        body["directory"] = directory
    for name, flag in (("force", force), ("resume", resume)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {flag!r}")
        if flag:
            body[name] = True
    if video_callable is not None:
        if callable(video_callable):
            raise TypeError(
                "video_callable cannot be a Python callable (the schedule runs in the server): "
                "pass True (old gym's schedule), False (no video) or N (every N-th episode)"
            )
        if isinstance(video_callable, (bool, np.bool_)):
            body["video_callable"] = bool(video_callable)
        elif isinstance(video_callable, (int, np.integer)) and video_callable > 0:
            body["video_callable"] = int(video_callable)
        else:
            raise ValueError(f"video_callable must be True, False or a positive integer, got {video_callable!r}")
    return body


def monitor_place(answer: Any) -> dict[str, Any]:
    """monitor/start/'s answer: ``{"directory", "url"}``."""
    if not isinstance(answer, dict) or not isinstance(answer.get("directory"), str):
        raise ProtocolError(f"monitor/start/ answered {str(answer)[:200]}, not {{directory, url}}")
    return {"directory": answer["directory"], "url": answer.get("url")}


def files_url_for(api_url: str, files_url: str | None, port: int | None = None) -> str:
    """The files port's URL: the one given, else the API's host on `port` (default 8000)."""
    if files_url is not None:
        return normalise_url(files_url)
    parts = urlsplit(api_url)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return urlunsplit((parts.scheme, f"{host}:{port or DEFAULT_FILES_PORT}", "", "", ""))
