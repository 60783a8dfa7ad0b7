"""How fast the UI is, in one run (prints figures; nothing here asserts a time).

    python bench/ui_speed.py

1. Start-up: from process start to the first frame of the sshviz UI as bare `sshviz` opens it
   (its start screen: the engine is imported once that frame is up), next to a minimal Textual
   app measured the same way, alternating (goal: within 1.5x); and to the frame that shows the
   demo session on the main screen.
2. Step: median time from a key press (n) to the frame that shows the next message, plain and
   with the annotated byte view on (goal: within one 60 Hz frame, 16.7 ms).
3. Traces of 100,000 and 1,000,000 messages, each in a child process of its own (its address
   space capped at 2 GiB, stopped after 10 minutes): time to open it (first frame) and the
   process's peak memory (goals: 100,000 under 2 s and 300 MB; 1,000,000 under 3 s and 500 MB),
   a step (n) from its start, a jump to its end (e) until the frame shows it (goal: under
   50 ms) and a step back (p) there: steps and jumps as fast on the long trace as on the short.
   Then a trace file of about as many messages (a recorded bulk transfer, as long traces are)
   opened by a fresh child as `sshviz replay FILE` opens it (loading the file, then the first
   frame), with that child's peak memory (its address space capped at 6 GiB): what a user
   opening a saved session waits for.

Frames are timed where Textual hands a finished screen update to the terminal; the headless
driver writes nothing, so the bench renders each update to terminal codes itself to count that
work too. The big trace is made by repeating a real session's connection messages (the same
records, new events), so it stops by itself and is the same on every run.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_ui import FrameRecorder  # noqa: E402  (after the path, like every import of the project)

STARTS = 5
STEPS = 60
BIG = 100_000
HUGE = 1_000_000
CHILD_MEMORY = 2 << 30  # bytes of address space a big-trace child may take
FILE_CHILD_MEMORY = 6 << 30  # and one that loads it from a file (about 1.7 KB a message today)

# Each child prints the seconds from its own start (passed in as a wall-clock time) to the
# app's Ready event, which Textual sends once the first frame is on screen.
CHILD_SSHVIZ = """
import sys, time
started = float(sys.argv[1])
from sshviz.tui import make_app
from sshviz.tui.app import SshvizApp
starts_demo = SshvizApp.on_ready
def ready(self):
    print(time.time() - started)  # the first frame: the start screen, the engine still loading
    starts_demo(self)  # imports the engine, builds the demo and pushes the main screen
    main = self.screen_stack[-1]
    # the frame after the main screen's mount shows the demo session's first message
    main.call_after_refresh(lambda: (print(time.time() - started), self.exit()))
SshvizApp.on_ready = ready
make_app().run(headless=True, size=(140, 42))  # what bare `sshviz` runs (sshviz.cli.main)
"""
CHILD_MINIMAL = """
import sys, time
started = float(sys.argv[1])
from textual.app import App
from textual.widgets import Footer, Header, Static
class Minimal(App):
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()
    def on_ready(self):
        print(time.time() - started)
        self.exit()
Minimal().run(headless=True, size=(140, 42))
"""
CHILD_BIG = """
import resource, sys, time
sys.path.insert(0, sys.argv[2])
from bench.ui_speed import big_trace, open_and_jump
trace = big_trace(int(sys.argv[3]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
opened, stepped, jumped, steps = open_and_jump(trace)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(trace.events), opened, stepped, jumped, steps, before / 1024, peak / 1024)
"""
# A trace file of about as many messages: one child records a session that long and saves it,
# a fresh one opens it as `sshviz replay FILE` does (load_trace, then the app), so that its
# peak memory is that of opening the file alone. The session is what makes long traces: bulk
# data (an exec of 'cat' in 1 KiB channel packets, saved as sshviz saves: elided after 64 KiB).
CHILD_SAVE = """
import sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from bench.trace_speed import transfer
from sshviz.trace.fileformat import save_trace
with tempfile.TemporaryDirectory() as directory:
    trace, how = transfer(Path(directory), max(1, int(sys.argv[3]) // 1024), 1024)
save_trace(trace, sys.argv[4])
print(how)
"""
CHILD_FILE = """
import resource, sys, time
started = float(sys.argv[1])  # the wall-clock time the child was started: start-up counts too
sys.path.insert(0, sys.argv[2])
from sshviz.trace.files import open_traces
trace, = open_traces(sys.argv[4], to_browse=True)  # as `sshviz replay FILE` opens it
loaded = time.time() - started
from bench.ui_speed import open_and_jump
opened, stepped, jumped, steps = open_and_jump(trace)  # its imports (Textual, the UI) count too
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(trace.events), loaded + opened, stepped, jumped, steps, loaded, peak / 1024)
"""


def time_child(code: str) -> list[float]:
    """The seconds the child printed (from its start to each moment it reports)."""
    started = time.time()
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(started), str(ROOT)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    if out.returncode:
        raise SystemExit(f"child failed:\n{out.stderr}")
    return [float(x) for x in out.stdout.split()]


class FrameClock(FrameRecorder):
    """Key press to the last frame it caused, on a screen that settles."""

    QUIET = 0.05  # no frame for this long after the last one: the screen has settled

    async def key(self, key: str, timeout: float = 10.0) -> float:
        """Seconds from a key arriving (as the terminal driver delivers it) to the last frame
        it caused."""
        count = self.frames
        started = self.send_key(key)
        deadline = started + timeout
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
            if self.frames > count and time.perf_counter() - self.last > self.QUIET:
                break
        return self.last - started


def median_step_ms(annotated: bool = False) -> float:
    from sshviz.scenario import Scenario
    from sshviz.tui import make_app

    async def run() -> list[float]:
        app = make_app(Scenario())  # as `sshviz demo` opens it
        times = []
        async with app.run_test(size=(140, 42)) as pilot:
            clock = FrameClock(app)
            await pilot.pause()
            if annotated:
                await clock.key("b")  # the hex view colours every field
            while len(times) < STEPS:
                if app.timeline.complete and app.timeline.position == len(app.timeline) - 1:
                    await clock.key("r")
                times.append(await clock.key("n"))
        return times

    return statistics.median(asyncio.run(run())) * 1000


def big_trace(size: int = BIG):
    """A session with ``size`` messages: a real handshake, then its connection messages
    repeated (CHANNEL_OPEN ... CHANNEL_CLOSE), then the DISCONNECT."""
    from sshviz.scenario import Scenario, run_scenario
    from sshviz.trace.model import Trace, TraceEvent

    source = run_scenario(Scenario()).trace
    events = source.events
    first_connection = next(e.index for e in events if e.name == "CHANNEL_OPEN")
    head, body, tail = events[:first_connection], events[first_connection:-1], events[-1:]
    out: list[TraceEvent] = []

    def add(event: TraceEvent) -> None:
        out.append(TraceEvent(len(out), event.time + len(out) * 0.001, event.direction, event.record,
                              event.changes, event.delivered, event.notes))

    for event in head:
        add(event)
    while len(out) < size - len(tail):
        add(body[(len(out) - len(head)) % len(body)])
    for event in tail:
        add(event)
    return Trace(source.header, out)


def open_and_jump(trace) -> tuple[float, float, float, float]:
    """Seconds to the first frame on ``trace``, the median step (n) from its start, then to the
    frame after a jump to its end, and the median step back (p) there."""
    from sshviz.tui import make_app

    async def run():
        started = time.perf_counter()
        app = make_app(trace=trace)  # as `run_app(trace=...)` opens it
        async with app.run_test(size=(140, 42)) as pilot:
            await pilot.pause()
            opened = time.perf_counter() - started
            clock = FrameClock(app)
            forward = [await clock.key("n") for _ in range(20)]
            jumped = await clock.key("e")
            assert app.timeline.position == len(trace.events) - 1
            steps = [await clock.key("p") for _ in range(20)]
        return opened, statistics.median(forward), jumped, statistics.median(steps)

    return asyncio.run(run())


def main() -> None:
    print(f"sshviz UI speed (Python {sys.version.split()[0]}, {STARTS} starts each, median)")
    sshviz_runs, minimal_runs = [], []
    for _ in range(STARTS):  # alternating, so both see the same load on the machine
        sshviz_runs.append(time_child(CHILD_SSHVIZ))
        minimal_runs.append(time_child(CHILD_MINIMAL)[0])
    sshviz_start = statistics.median(run[0] for run in sshviz_runs)
    sshviz_session = statistics.median(run[1] for run in sshviz_runs)
    minimal_start = statistics.median(minimal_runs)

    def spread(values) -> str:
        return f"{min(values) * 1000:.0f}-{max(values) * 1000:.0f}"

    print(f"  start to first frame (bare sshviz's start screen): sshviz {sshviz_start * 1000:.0f} ms "
          f"({spread([run[0] for run in sshviz_runs])}), minimal Textual app {minimal_start * 1000:.0f} ms "
          f"({spread(minimal_runs)}); {sshviz_start / minimal_start:.2f}x, goal within 1.5x")
    print(f"  start to the demo session's first message on screen: {sshviz_session * 1000:.0f} ms "
          f"({spread([run[1] for run in sshviz_runs])}; {sshviz_session / minimal_start:.2f}x the "
          f"minimal app's first frame)")
    print(f"  key press to frame, one step: median {median_step_ms():.1f} ms over {STEPS} steps; "
          f"with the annotated byte view on (b): {median_step_ms(annotated=True):.1f} ms "
          f"(goal within one 60 Hz frame, 16.7 ms)")
    for size, goal_seconds, goal_mb in ((BIG, 2, 300), (HUGE, 3, 500)):
        big_trace_figures(size, goal_seconds, goal_mb)


def limit_memory(limit: int = CHILD_MEMORY) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def big_trace_figures(size: int, goal_seconds: float, goal_mb: float) -> None:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD_BIG), "0", str(ROOT), str(size)],
                         capture_output=True, text=True, cwd=ROOT, timeout=600, preexec_fn=limit_memory)
    if out.returncode:
        raise SystemExit(f"big trace child failed:\n{out.stderr}")
    count, opened, stepped, jumped, steps, before_mb, peak_mb = out.stdout.split()
    print(f"  {int(count):,}-message trace, made in the process: opened in {float(opened) * 1000:.0f} ms "
          f"(goal under {goal_seconds} s); process peak {float(peak_mb):.0f} MB, {float(before_mb):.0f} MB "
          f"before opening (goal under {goal_mb} MB)")
    print(f"    a step (n) from its start: median {float(stepped) * 1000:.1f} ms; jump to its end (e): "
          f"{float(jumped) * 1000:.1f} ms (goal under 50 ms); a step back (p) there: median "
          f"{float(steps) * 1000:.1f} ms")
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "big.yaml")
        how = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD_SAVE), "0", str(ROOT), str(size), path],
                             check=True, cwd=ROOT, timeout=600, capture_output=True, text=True).stdout.strip()
        megabytes = Path(path).stat().st_size / 1e6
        out = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD_FILE), str(time.time()), str(ROOT),
                              str(size), path],
                             capture_output=True, text=True, cwd=ROOT, timeout=600,
                             preexec_fn=lambda: limit_memory(FILE_CHILD_MEMORY))
    if out.returncode:
        print(f"  a {megabytes:.0f} MB trace file ({how}): failed within {FILE_CHILD_MEMORY >> 30} GiB "
              f"({(out.stderr.strip().splitlines() or ['no message'])[-1]})")
        return
    count, opened, stepped, jumped, steps, loaded, peak_mb = out.stdout.split()
    print(f"  a {int(count):,}-message trace file of {megabytes:.0f} MB ({how}), opened as `sshviz replay "
          f"FILE` opens it: {float(opened) * 1000:.0f} ms from the process's start to the first frame "
          f"(start-up and reading the file {float(loaded) * 1000:.0f} ms of it; goal under {goal_seconds} s); process "
          f"peak {float(peak_mb):.0f} MB (goal under {goal_mb} MB)")
    print(f"    a step (n) from its start: median {float(stepped) * 1000:.1f} ms; jump to its end (e): "
          f"{float(jumped) * 1000:.1f} ms (goal under 50 ms); a step back (p) there: median "
          f"{float(steps) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
