"""Installed in every kernel when it starts, before any session's code runs (`PythonKernel.start`).

Output cap. A cell that prints in a tight loop fills ipykernel's stream buffer far faster than it
is sent: every 0.2 s the buffer leaves as one iopub message of hundreds of megabytes, which the
kernel, Jupyter Server and CodeRunner each have to encode, copy and decode, and the reply to an
interrupt waits behind all of it. So the kernel stops sending at the cap: the writes of a run (the
main thread's and the file-descriptor watchers', where subprocesses' output arrives) and its
displayed outputs are counted, what passes the cap is swallowed, and the run's execute_reply
carries a `{"source": "coderunner", "truncated": true}` payload (payloads come back whatever the
cell's outcome, an interrupted one included). The count restarts with each execution.
"""

import json

from IPython import get_ipython
from ipykernel.iostream import OutStream


def install(limit):
    shell = get_ipython()
    cap_output(shell, limit)


def cap_output(shell, limit):
    state = {"used": 0, "over": False}

    def restart(*_):
        state["used"] = 0
        state["over"] = False

    def overflow():
        state["used"] = limit
        if not state["over"]:
            state["over"] = True
            shell.payload_manager.write_payload({"source": "coderunner", "truncated": True})

    stream_write = OutStream.write

    def write(self, string):
        __tracebackhide__ = True
        if not isinstance(string, str):
            return stream_write(self, string)  # ipykernel's own TypeError
        if state["over"]:
            return len(string)
        size = len(string) if string.isascii() else len(string.encode("utf-8", "replace"))
        room = limit - state["used"]
        if size <= room:
            state["used"] += size
            return stream_write(self, string)
        kept = string.encode("utf-8", "replace")[:room].decode("utf-8", "ignore")
        overflow()
        if kept:
            stream_write(self, kept)
        return len(string)

    OutStream.write = write

    publisher = shell.display_pub
    publish = publisher.publish

    def capped_publish(data, *args, **kwargs):
        if state["over"]:
            return None
        if kwargs.get("update"):
            return publish(data, *args, **kwargs)  # CodeRunner keeps no display updates: not counted
        size = 0
        for value in (data or {}).values():
            if isinstance(value, bytes):
                size += (len(value) + 2) // 3 * 4  # sent as base64
            else:
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                size += len(text.encode("utf-8", "replace"))
        if size > limit - state["used"]:
            overflow()
            return None
        state["used"] += size
        return publish(data, *args, **kwargs)

    publisher.publish = capped_publish
    shell.events.register("pre_execute", restart)
