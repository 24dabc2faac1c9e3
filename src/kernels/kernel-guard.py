"""Installed in every kernel when it starts, before any session's code runs (`PythonKernel.start`).

Output cap. A cell that prints in a tight loop fills ipykernel's stream buffer far faster than it
is sent: every 0.2 s the buffer leaves as one iopub message of hundreds of megabytes, which the
kernel, Jupyter Server and CodeRunner each have to encode, copy and decode, and the reply to an
interrupt waits behind all of it. So the kernel stops sending at the cap: the writes of a run (the
main thread's and the file-descriptor watchers', where subprocesses' output arrives) and its
displayed outputs are counted, and what passes the cap is swallowed. The first time, an empty
display_data with `{"coderunner": "truncated"}` in its transient part tells the server at once,
ahead of the run's end (a client's deadline may come first). The count restarts with each execution.

Standard input. A run has none: `input()` and `getpass()` raise EOFError as Python does at the end
of input, file descriptor 0 reads /dev/null, and `!cmd` runs with stdin on /dev/null and its output
on a pseudo-terminal (so programs still write line by line, with "\n" line ends), instead of
IPython's pexpect session, which gives the command the terminal's input side (so `!cat` waits
forever) and keeps all the command's output in memory until it ends.

Session setup. A kernel comes from the pool before it knows its session. The server puts the
session's working directory and environment in the metadata of the first request it sends the
kernel for that session (`coderunner_setup`), and the kernel enters them just before running that
request's code: no request of its own, so a session's first run costs what any run costs.
"""

import codecs
import json
import os
import pty
import signal
import subprocess
import sys
import termios

from IPython import get_ipython
from ipykernel.iostream import OutStream


def install(limit):
    shell = get_ipython()
    cap_output(shell, limit)
    close_stdin(shell)
    follow_setup(shell)


def follow_setup(shell):
    kernel = shell.kernel
    entered = {"request": None}

    def enter(*_):
        parent = kernel.get_parent("shell")
        setup = (parent.get("metadata") or {}).get("coderunner_setup")
        request = (parent.get("header") or {}).get("msg_id")
        if not setup or request == entered["request"]:
            return  # a cell the request's own code runs (`run_cell`) does not enter it again
        entered["request"] = request
        os.environ.update(setup.get("env") or {})
        cwd = setup.get("cwd")
        if cwd:
            try:
                os.chdir(cwd)
            except OSError as error:
                sys.stderr.write(f"CodeRunner: this session's Python kernel could not enter its working directory {cwd} ({error.strerror}); it runs in {os.getcwd()}.\n")

    shell.events.register("pre_execute", enter)


def cap_output(shell, limit):
    state = {"used": 0, "over": False}
    publisher = shell.display_pub

    def restart(*_):
        state["used"] = 0
        state["over"] = False

    def overflow():
        state["used"] = limit
        if not state["over"]:
            state["over"] = True
            content = {"data": {}, "metadata": {}, "transient": {"coderunner": "truncated"}}
            publisher.session.send(publisher.pub_socket, "display_data", content, parent=publisher.parent_header)

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


def close_stdin(shell):
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # Python's own input() on that: the prompt, then "EOFError: EOF when reading a line". (This runs
    # in a cell, where ipykernel has put its raw_input in builtins and kept Python's aside.)
    kernel = shell.kernel
    kernel.raw_input = kernel._sys_raw_input
    kernel.getpass = lambda prompt="Password: ", stream=None: kernel.raw_input(prompt)

    def system(cmd):
        """`!cmd`: IPython's contract (`_exit_code`, `$var` expansion, no `&`), stdin on /dev/null."""
        if cmd.rstrip().endswith("&"):
            raise OSError("Background processes not supported.")
        shell.user_ns["_exit_code"] = run_command(shell.var_expand(cmd, depth=1))

    def run_command(cmd):
        master, terminal = pty.openpty()
        try:
            modes = termios.tcgetattr(terminal)
            modes[1] &= ~termios.ONLCR  # "\n" as the program wrote it, not "\r\n"
            termios.tcsetattr(terminal, termios.TCSANOW, modes)
            child = subprocess.Popen(
                [os.environ.get("SHELL") or "/bin/sh", "-c", cmd],
                stdin=subprocess.DEVNULL,
                stdout=terminal,
                stderr=terminal,
            )
        finally:
            os.close(terminal)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal has closed it
                    chunk = b""
                if not chunk:
                    break
                sys.stdout.write(decoder.decode(chunk))
            sys.stdout.write(decoder.decode(b"", True))
            status = child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(0.2)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            raise
        finally:
            os.close(master)
        if status > 128:
            return -(status - 128)
        return status

    shell.system = system
    shell.system_piped = system
