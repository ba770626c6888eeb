"""One part of a parallel replay, in a process of its own (started by `parallel`).

Reads its request (a pickle) on stdin; writes ("digest", (position, digest)) for every digest
taken, ("fed", frames) now and then and, at the end, ("done", LegResult) on stdout.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any, BinaryIO

from storewatch.replay.engine import CHECK_EVERY, Feeder, positioned
from storewatch.replay.parallel import _state_before, run_leg


def serve(request: dict[str, Any], out: BinaryIO) -> None:
    files = [Path(p) for p in request["files"]]
    feeder = Feeder(request["since"], request["until"], request["overrides"], request["roi_id"], request["names"],
                    request["lost"])
    (first, index), saved = request["pos"], request["saved"]
    if saved is None:  # from the state record at `pos`
        records = positioned(files, first, index)
    else:
        feeder.resume(saved)
        records = positioned(files, first, _state_before(files[first], index), index, specs_before=False)

    def tick(fed: int) -> None:
        if fed % (4 * CHECK_EVERY) == 0:
            pickle.dump(("fed", fed), out)
            out.flush()

    def seen(pos: tuple[int, int], digest: bytes) -> None:
        pickle.dump(("digest", (pos, digest)), out)

    result = run_leg(feeder, records, request["until"], request["bound"], None, tick, seen)
    pickle.dump(("done", result), out)
    out.flush()


def main() -> int:
    try:
        serve(pickle.load(sys.stdin.buffer), sys.stdout.buffer)
    except BrokenPipeError:  # the replay that started it has gone: nobody wants the answer
        return 1
    except Exception as exc:  # the loop boundary of this process: the replay runs this part itself
        print(f"storewatch replay leg: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
