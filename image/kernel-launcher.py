"""Starts an IPython kernel without the debugger; in a confined sandbox, as the sandbox user.

ipykernel imports debugpy (and through it pydevd and pkg_resources) at every kernel start, only to
offer Jupyter's visual debugger, which CodeRunner never uses: about 0.7 s of each kernel's cold start.
Marking the module absent makes ipykernel skip it; everything else is the stock `ipykernel_launcher`.

Confined (`CODERUNNER_KERNEL_USER` in the environment, set by `coderunner serve` for Jupyter Server):
Jupyter starts this as the server user, which holds CAP_SETUID/CAP_SETGID/CAP_KILL as ambient
capabilities. It then
1. reads the connection file (private to the server) into an anonymous memory file,
2. raises its own oom_score_adj, so the OOM killer takes user code before the server, and sets the
   sandbox user's process budget (RLIMIT_NPROC, soft and hard) and niceness when the handoff has them,
3. drops to the sandbox user with no supplementary groups, clears the ambient capabilities (a
   non-root to non-root setuid keeps the permitted ones) and sets no_new_privs,
4. swaps the server's environment for the user's and execs itself: after the exec the process has
   no capability left, and the kernel reads its connection info from the inherited memory file.
The process keeps its PID throughout, so Jupyter's interrupts and kills reach the kernel.
"""
import json
import os
import resource
import sys

HANDOFF = "CODERUNNER_KERNEL_USER"
CONNECTION_FROM = "--coderunner-connection"  # the original file, kept on the command line for `ps`

PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4


def prctl(*args):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl{args}: {os.strerror(errno)}")


def drop_to_sandbox_user(handoff):
    argv = sys.argv[1:]
    at = argv.index("-f")
    connection_file = argv[at + 1]
    with open(connection_file, "rb") as source:
        info = source.read()
    memory = os.memfd_create("kernel-connection", 0)  # inherited across exec (no MFD_CLOEXEC)
    os.write(memory, info)
    os.set_inheritable(memory, True)
    with open("/proc/self/oom_score_adj", "w") as oom:
        oom.write(str(handoff.get("oom_score_adj", 1000)))
    nproc = handoff.get("nproc")
    if nproc is not None:
        # Before the switch: the user cannot raise it, and a user already at its budget fails the
        # exec below (EAGAIN) rather than running one process more.
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if handoff.get("nice") is not None:
        os.nice(handoff["nice"])

    uid, gid = handoff["uid"], handoff["gid"]
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)

    env = dict(os.environ)
    for name in handoff.get("unset", []):
        env.pop(name, None)
    env.update(handoff.get("env", {}))
    os.chdir(handoff.get("cwd", "/"))
    rest = argv[:at] + argv[at + 2:]
    os.execve(
        sys.executable,
        [sys.executable, os.path.abspath(__file__), CONNECTION_FROM, connection_file, "-f", f"/proc/self/fd/{memory}", *rest],
        env,
    )


def main():
    handoff = os.environ.pop(HANDOFF, None)
    if handoff is not None:
        drop_to_sandbox_user(json.loads(handoff))  # does not return

    argv = sys.argv[1:]
    memory = None
    if argv[:1] == [CONNECTION_FROM]:
        argv = argv[2:]
        memory = int(argv[argv.index("-f") + 1].rsplit("/", 1)[1])
        # The server's IPython profile (history kept in memory only) is not the user's to read.
        argv.append("--HistoryManager.enabled=False")

    sys.modules["debugpy"] = None  # `import debugpy` now raises ImportError: ipykernel runs without a debugger

    from ipykernel.kernelapp import IPKernelApp

    if memory is not None:
        # The info came from Jupyter's file, ports included: nothing to write back (and the memory
        # file is not the 0600 file ipykernel insists on writing).
        IPKernelApp.write_connection_file = lambda self: None
    app = IPKernelApp.instance()
    app.initialize(argv)
    if memory is not None:
        os.close(memory)  # read; user code need not inherit it
    app.start()


main()
