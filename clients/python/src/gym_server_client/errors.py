"""The exceptions the client raises.

Every one derives from :class:`GymServerError`, itself a :class:`gymnasium.error.Error`, so
``except gymnasium.error.Error`` catches them all. Where Gymnasium has a class for the same
failure (an unregistered id, a bad action, a step before reset), the exception derives from it
too: code written against an in-process environment catches the remote one's errors unchanged.
"""

from __future__ import annotations

import re

import gymnasium.error


class GymServerError(gymnasium.error.Error):
    """Base class of every error this package raises."""


class ServerUnreachable(GymServerError, ConnectionError):
    """No gym-server answered at the URL (refused, timed out, not HTTP)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach gym-server at {url}: {reason}")


class ServerError(GymServerError):
    """The server refused a request: its JSON error ``{"message", "error"}``, with the status.

    ``message`` is the server's text; ``status`` the HTTP status (``None`` over WebSocket);
    ``route`` what was asked (``"POST /v1/envs/"``, ``"ws step"``).
    """

    def __init__(self, message: str, *, status: int | None = None, route: str = "") -> None:
        self.message = message
        self.status = status
        self.route = route
        super().__init__(message)


class UnknownEnvironment(ServerError, gymnasium.error.UnregisteredEnv):
    """The server has no environment with that id (``"Environment 'X-v1' is not registered"``)."""


class MalformedEnvironmentId(ServerError):
    """The id is not of the form ``Name-vN``."""


class UnknownInstance(ServerError):
    """The instance id is unknown to the server (closed, expired, or another key's)."""


class InvalidAction(ServerError, gymnasium.error.InvalidAction):
    """The action is not in the action space, or not of its form."""


class ResetNeeded(ServerError, gymnasium.error.ResetNeeded):
    """Step (or render) before the first reset."""


class UnsupportedByServer(GymServerError):
    """The server does not offer a feature the client asked for (an older gym-server).

    Raised for the WebSocket transport when ``/gym`` answers 404, and for vector environments
    when the server creates a single environment instead (it ignores ``num_envs``).
    """


class ProtocolError(GymServerError):
    """The server answered something the client cannot read (not the documented form)."""


class PNGDecodeError(GymServerError, ValueError):
    """A frame the server sent is not a PNG that decodes."""


# "Environment `X-v1` not found" is Gymie's (and gym-server's over WebSocket).
_NOT_REGISTERED = re.compile(r"is not registered|not found in registry|No registered env|^Environment `.*` not found", re.I)
_MALFORMED = re.compile(r"malformed", re.I)
_UNKNOWN_INSTANCE = re.compile(r"^Instance_id .* unknown|instance .* not found", re.I)
_BAD_ACTION = re.compile(
    r"not in the action space|parameter 'action'|actions? .*(is|are) wrong|invalid action", re.I
)
_RESET_NEEDED = re.compile(r"before calling env\.reset|reset the environment first|before the first reset", re.I)


def error_from_message(message: str, *, status: int | None, route: str) -> ServerError:
    """The most specific exception for a server's error text.

    gym-server's errors carry no machine-readable code (``error`` repeats ``message``), so the
    class is chosen from the text, and falls back to :class:`ServerError`.
    """
    for pattern, cls in (
        (_UNKNOWN_INSTANCE, UnknownInstance),
        (_NOT_REGISTERED, UnknownEnvironment),
        (_MALFORMED, MalformedEnvironmentId),
        (_RESET_NEEDED, ResetNeeded),
        (_BAD_ACTION, InvalidAction),
    ):
        if pattern.search(message):
            return cls(message, status=status, route=route)
    return ServerError(message, status=status, route=route)
