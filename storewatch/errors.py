"""The domain's errors: what went wrong, in words for a person, without HTTP.

The domain modules raise these; `server/errors.py` maps each class to a status and a code
in one table (the CLI prints the message). The kinds decide the status there:

- NotFound: the thing named does not exist (404).
- InvalidInput: the request is wrong whatever is stored (422).
- Conflict: the request is well formed but what is stored refuses it now (409).
- CorruptStoredValue: the appliance's own data is damaged; not the caller's fault (500).

Each keeps the builtin base it had before it got a class of its own (LookupError,
ValueError), so code that caught those still does.
"""

from __future__ import annotations

import json
from typing import Any


class DomainError(Exception):
    """Base of every error the API turns into an answer through the table."""


class NotFound(DomainError, LookupError):
    pass


class InvalidInput(DomainError, ValueError):
    """Bad input without a class of its own (a time span backwards, an unknown state)."""


class Conflict(DomainError, ValueError):
    pass


# --- not found ----------------------------------------------------------------------------


class DeviceNotFound(NotFound):
    pass


class RoiNotFound(NotFound):
    pass


class JobNotFound(NotFound):
    pass


class ReplayNotFound(NotFound):
    """Only the last what-if replay is kept (server/replay_runner.py)."""


# --- invalid input ------------------------------------------------------------------------


class DeviceInvalid(InvalidInput):
    """A device's name, id, auth scheme or enabled flag is not acceptable."""


class RoiInvalid(InvalidInput):
    """An ROI or threshold value is not acceptable; the message says why."""


class PasswordTooWeak(InvalidInput):
    pass


# --- conflicts with what is stored --------------------------------------------------------


class DeviceIdTaken(Conflict):
    pass


class RoiNameTaken(Conflict):
    pass


class JobNotRetryable(Conflict):
    """Only dead or failed jobs go back to the queue."""


class ReplayBusy(Conflict):
    """A what-if replay is already running: one runs at a time."""


class NoFramesKept(Conflict):
    """A replay was asked of a device none of whose frames are kept for replay."""


class FrameConflict(Conflict):
    """The seq is already stored with different bytes."""


class SeqTooOld(Conflict):
    """The seq is not above the last one analysed for its device, and not a stored frame.

    The worker would skip it as late, so it would be kept but never analysed. The mark
    lives in analysis_state, which retention never deletes: a seq re-used after its frame
    expired is refused as well.
    """

    def __init__(self, device_id: str, seq: int, last_seq: int):
        super().__init__(f"seq {seq} of {device_id} is not above {last_seq}, the last seq already analysed")
        self.last_seq = last_seq


# --- damaged data -------------------------------------------------------------------------


class CorruptStoredValue(DomainError, ValueError):
    """A value the appliance stored itself does not read back (a damaged card, a hand edit)."""

    def __init__(self, where: str, owner: str = ""):
        of = f" of {owner}" if owner else ""
        super().__init__(f"the stored {where}{of} is damaged and cannot be read")
        self.where, self.owner = where, owner


def load_stored_json(text: str | bytes | None, where: str, owner: str = "") -> Any:
    """json.loads for a column the appliance wrote: a damaged one is CorruptStoredValue,
    never a ValueError that would look like the caller's mistake."""
    try:
        return json.loads(text)  # type: ignore[arg-type]
    except (TypeError, ValueError, RecursionError):
        raise CorruptStoredValue(where, owner) from None
