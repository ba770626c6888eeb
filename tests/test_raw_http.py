"""raw_http.read_answer: one answer per call, however the answers arrive."""

from __future__ import annotations

import socket
import threading
import time

from support.raw_http import read_answer

FIRST = b"HTTP/1.1 422 Unprocessable Entity\r\ncontent-length: 5\r\n\r\nfirst"
SECOND = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 6\r\n\r\nsecond"


def test_two_answers_arriving_together_are_read_one_at_a_time() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.settimeout(5)
        theirs.sendall(FIRST + SECOND)
        first, second = read_answer(ours), read_answer(ours)
    assert (first.status, first.body) == (422, b"first")
    assert (second.status, second.body) == (400, b"second")


def test_answers_arriving_a_few_bytes_at_a_time_are_read_whole() -> None:
    ours, theirs = socket.socketpair()

    def dribble() -> None:
        data = FIRST + SECOND
        for start in range(0, len(data), 3):
            theirs.sendall(data[start:start + 3])
            time.sleep(0.002)

    with ours, theirs:
        ours.settimeout(5)
        sender = threading.Thread(target=dribble)
        sender.start()
        first, second = read_answer(ours), read_answer(ours)
        sender.join(5)
    assert (first.status, first.headers["content-length"], first.body) == (422, "5", b"first")
    assert (second.status, second.body) == (400, b"second")
