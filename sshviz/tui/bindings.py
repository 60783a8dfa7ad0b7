"""Every key binding of the app, declared once: the screens and widgets take their BINDINGS from
here, and the help screen lists them from here."""

from __future__ import annotations

from textual.binding import Binding

# The main screen: moving through the session and what the panels show.
MAIN = [
    # First, so that a narrow footer still shows it.
    Binding("f1", "help", "Help", tooltip="What is on the screen, and every key"),
    Binding("right,n", "step(1)", "Next", tooltip="Step forward one message"),
    Binding("left,p", "step(-1)", "Back", tooltip="Step back one message"),
    Binding("right_square_bracket", "next_phase", "Next phase", key_display="]",
            tooltip="Jump to the first message of the next phase"),
    Binding("left_square_bracket", "previous_phase", "Phase start", key_display="[", show=False,
            tooltip="Jump to the start of this phase, or the one before"),
    Binding("e,end", "run_to_end", "Run to end", tooltip="Play the rest of the session"),
    Binding("r", "restart", "Restart", tooltip="Back to the first message (a live run starts again)"),
    Binding("slash", "search", "Search", key_display="/",
            tooltip="Find messages by name or field value"),
    Binding("k", "toggle_keys", "Key panel", tooltip="Show the key panel in place of the fields, wider"),
    Binding("b", "toggle_annotated", "Annotate", id="annotate",
            tooltip="Hex view: every field in its own colour, with a legend (b again: the selected field only)"),
    Binding("w", "toggle_wire", "Wire/plain", tooltip="Hex view: bytes on the wire or the plaintext packet"),
    Binding("t", "toggle_light", "Light/dark", id="theme",
            tooltip="A light theme for projectors, or back to dark (ctrl+p: every theme)"),
    Binding("l", "toggle_presentation", "Layout", id="presentation",
            tooltip="Presentation layout: the ladder and one large explanation of the step; l again: all panels"),
    Binding("s", "what_if", "What if…", tooltip="Choose algorithms, authentication, command and seed; run again"),
    Binding("c", "compare", "Compare", id="compare", show=False,
            tooltip="After a what-if: the run before and the run now side by side"),
    Binding("a", "attack", "Attack", tooltip="An attacked run: what the attack attacks, how the run "
            "ended, which check stopped it or that nothing did"),
    Binding("q", "app.quit", "Quit", show=False),
]

# Everywhere, dialogs included (the app's own).
APP = [
    Binding("ctrl+s", "screenshot", "SVG", priority=True, tooltip="Save an SVG screenshot of the screen as it is, "
            "dialogs included; the notification says where"),
]

# The ladder: arrow keys move through the messages it lists.
LADDER = [
    Binding("down", "screen.step(1)", "Next message", show=False),
    Binding("up", "screen.step(-1)", "Previous message", show=False),
    Binding("pagedown", "screen.step(20)", "20 messages on", show=False),
    Binding("pageup", "screen.step(-20)", "20 messages back", show=False),
    Binding("home", "screen.restart", "First message", show=False),
]

# The fields: the arrow keys move through them; right and left stay with the main screen.
FIELDS = [
    Binding("down", "cursor(1)", "Next field", show=False),
    Binding("up", "cursor(-1)", "Previous field", show=False),
    Binding("pagedown", "cursor(10)", "10 fields on", show=False),
    Binding("pageup", "cursor(-10)", "10 fields back", show=False),
    Binding("home", "cursor_to(0)", "The whole message", show=False),
    Binding("end", "cursor_to(-1)", "Last field", show=False),
    Binding("enter,space", "toggle", "Open or fold the field", show=False),
]

# The start screen, for the moment the demo session takes to load.
START = [Binding("q", "app.quit", "Quit")]
# A lesson (sshviz lesson NAME): its steps beside the main screen's panels, which follow them.
LESSON = [
    Binding("N", "next_step", "Next step", id="lesson-next", tooltip="On to the lesson's next step"),
    Binding("P", "previous_step", "Step back", id="lesson-previous",
            tooltip="Back to the lesson's previous step"),
    Binding("h", "hint", "Hint", id="lesson-hint", tooltip="A hint for this step of the lesson"),
    Binding("i", "answer", "Answer", id="lesson-answer",
            tooltip="Go to the step's answer: the choices of a question, the box of a compute step "
                    "(enter answers, escape comes back)"),
    Binding("x", "experiment", "Experiment", id="lesson-experiment",
            tooltip="Run the step's experiment: the changed session replaces the one shown"),
    Binding("R", "reset_lesson", "Reset lesson", id="lesson-reset", show=False,
            tooltip="Forget your progress in this lesson and start it again"),
    Binding("escape", "leave_answer", "Back to the ladder", show=False,
            tooltip="From the choices or the answer box back to the ladder (the lesson's keys work again)"),
]

# Dialogs close with escape.
DIALOG = [Binding("escape", "dismiss_dialog", "Close", show=True)]

# A live server's connection list (serve with the UI).
CONNECTIONS = [
    Binding("f1", "help", "Help", tooltip="What the list shows, and every key"),
    Binding("enter", "open", "Watch", tooltip="Open the selected connection: its messages as they arrive"),
    Binding("v", "save", "Save trace", tooltip="Save the selected connection as a trace file (as --trace "
            "writes them); the notification gives the path"),
    Binding("t", "toggle_light", "Light/dark", tooltip="A light theme for projectors, or back to dark"),
    Binding("q", "app.quit", "Quit", tooltip="Quit: serve stops its server; watch leaves it running"),
]

# A live connection's messages (serve and connect with the UI), over the main screen's keys.
LIVE_SESSION = [
    Binding("f", "follow", "Follow/pause", tooltip="Follow: the newest message is selected as it "
            "arrives; pause: the selection stays where it is while traffic goes on (moving back pauses too)"),
    Binding("v", "save", "Save trace", tooltip="Save this connection as a trace file; the notification "
            "gives the path"),
    Binding("escape", "back", "Connections", tooltip="Back to the list of connections (serve)"),
]

HELP_SECTIONS = (("Main screen", MAIN), ("In a lesson (sshviz lesson NAME)", LESSON), ("Everywhere", APP), ("Ladder (when focused)", LADDER),
                 ("Fields (when focused)", FIELDS), ("Dialogs", DIALOG))
LIVE_HELP_SECTIONS = (("Connections (serve)", CONNECTIONS), ("A live connection", LIVE_SESSION),
                      *HELP_SECTIONS)
