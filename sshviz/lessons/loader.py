"""Reading a lesson file: YAML, checked against the format of docs/lessons.md. A broken file
raises one ``LessonError`` naming the file, the line and what is wrong, e.g.
``lessons/03-x.yaml:14: step 3: unknown step kind 'quiz'``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from ..scenario import Scenario
from .computations import COMPUTATIONS
from .model import LEVELS, STEP_KINDS, Choice, Lesson, Named, RunSource, Step, display_path
from .observations import OBSERVATIONS

SCENARIO_OPTIONS = {f for f in Scenario.__dataclass_fields__}
OPTIONAL_OPTIONS = {f.name for f in dataclasses.fields(Scenario) if "None" in str(f.type)}  # may be null
ATTACK_KEY = "attack"  # in an experiment's change: an attack of the attack lab and its settings


class LessonError(ValueError):
    """A lesson file that cannot be used: one line, ``FILE:LINE: what is wrong``."""

    def __init__(self, path, line: int, problem: str):
        self.path, self.line, self.problem = Path(path), line, problem
        super().__init__(f"{display_path(self.path)}:{line}: {problem}" if line else
                         f"{display_path(self.path)}: {problem}")


class Located(dict):
    """A YAML mapping that remembers its line and the line of each key."""

    line = 0
    key_lines: dict


class LocatedList(list):
    line = 0
    item_lines: list


class _LessonLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node):
    data = Located()
    data.line, data.key_lines = node.start_mark.line + 1, {}
    yield data
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise LessonError(loader.name, key_node.start_mark.line + 1, f"a key must be a word, not {key!r}")
        if key in data:
            raise LessonError(loader.name, key_node.start_mark.line + 1, f"{key!r} is given twice")
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1


def _construct_sequence(loader, node):
    data = LocatedList()
    data.line, data.item_lines = node.start_mark.line + 1, []
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_lines.append(item.start_mark.line + 1)


_LessonLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LessonLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def base_options(source: RunSource) -> dict:
    """The scenario options of a run made from a scenario or a sample."""
    if source.sample is not None:
        from ..samples import SAMPLES

        return dict(next(s for s in SAMPLES if s.name == source.sample).scenario)
    return dict(source.scenario or {})


def load_lesson(path) -> Lesson:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LessonError(path, 0, "not UTF-8 text") from None
    except OSError as exc:
        raise LessonError(path, 0, exc.strerror or str(exc)) from None
    return loads_lesson(text, path)


def loads_lesson(text: str, path) -> Lesson:
    path = Path(path)
    loader = _LessonLoader(text)
    loader.name = str(path)
    try:
        document = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise LessonError(path, mark.line + 1 if mark else 0,
                          f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise LessonError(path, 0, f"not valid YAML: {str(exc).splitlines()[0]}") from None
    finally:
        loader.dispose()
    return _Reader(path).lesson(document)


def _fits(value, default) -> bool:
    """Whether ``value`` is of the kind a Scenario field with ``default`` holds."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, list):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return isinstance(value, str)


def _kind_of(default) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, list):
        return "a list of texts"
    if isinstance(default, dict):
        return "a mapping"
    return "a text"


class _Reader:
    """Turns the YAML document into a Lesson, raising LessonError at the first problem."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, line: int, problem: str):
        raise LessonError(self.path, line, problem)

    def mapping(self, value, line: int, what: str) -> Located:
        if not isinstance(value, Located):
            self.fail(line, f"{what} must be a mapping of names to values")
        return value

    def keys(self, data: Located, allowed, required, what: str) -> None:
        for key in data:
            if key not in allowed:
                self.fail(data.key_lines[key], f"{what}unknown key {key!r} (known: {', '.join(allowed)})")
        for key in required:
            if key not in data:
                self.fail(data.line, f"{what}missing {key!r}")

    def text(self, data: Located, key: str, what: str, default=None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            self.fail(data.key_lines.get(key, data.line), f"{what}{key!r} must be some text")
        return value.strip()

    def lesson(self, document) -> Lesson:
        data = self.mapping(document, 1, "a lesson")
        self.keys(data, ("name", "title", "level", "minutes", "summary", "run", "steps"),
                  ("name", "title", "level", "minutes", "run", "steps"), "")
        level = data["level"]
        if level not in LEVELS:
            self.fail(data.key_lines["level"], f"level must be one of {', '.join(LEVELS)}, not {level!r}")
        minutes = data["minutes"]
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 240:
            self.fail(data.key_lines["minutes"], f"minutes must be a whole number from 1 to 240, not {minutes!r}")
        source = self.source(data["run"], data.key_lines["run"])
        steps_value = data["steps"]
        if not isinstance(steps_value, LocatedList) or not steps_value:
            self.fail(data.key_lines["steps"], "steps must be a list of one or more steps")
        steps = tuple(self.step(number, value, line, source)
                      for number, (value, line) in enumerate(zip(steps_value, steps_value.item_lines), 1))
        ids = [s.key for s in steps]
        for step in steps:
            if ids.count(step.key) > 1:
                self.fail(step.line, f"step {step.number}: id {step.key!r} is used by another step")
        return Lesson(self.text(data, "name", ""), self.text(data, "title", ""), level, minutes, source,
                      steps, self.path, data.get("summary", "").strip() if isinstance(data.get("summary"), str) else "")

    def source(self, value, line: int) -> RunSource:
        data = self.mapping(value, line, "run")
        self.keys(data, ("scenario", "sample", "trace", "keylog"), (), "run: ")
        if "keylog" in data and "trace" not in data:
            self.fail(data.key_lines["keylog"], "run: a keylog goes with a trace (the capture it opens)")
        if len(data) - ("keylog" in data) != 1:
            self.fail(data.line, "run: give exactly one of scenario, sample or trace")
        if "scenario" in data:
            return RunSource(scenario=dict(self.scenario(data["scenario"], data.key_lines["scenario"], "run: ")),
                             line=data.line)
        if "sample" in data:
            from ..samples import SAMPLES
            from ..trace.samples import find_sample

            name = self.text(data, "sample", "run: ")
            sample = next((s for s in SAMPLES if s.name == name), None)
            if sample is None:
                self.fail(data.key_lines["sample"], f"run: unknown sample {name!r} (samples: "
                                                   f"{', '.join(s.name for s in SAMPLES)})")
            if sample.in_process:
                return RunSource(sample=name, line=data.line)
            recorded = find_sample(name)  # a session recorded with OpenSSH: its trace file
            if recorded is None:
                self.fail(data.key_lines["sample"], f"run: the sample trace {name!r} is not installed")
            return RunSource(trace=recorded, line=data.line)
        trace = self.path.parent / self.text(data, "trace", "run: ")
        if not trace.is_file():
            self.fail(data.key_lines["trace"], f"run: no trace or capture file {display_path(trace)}")
        keylog = None
        if "keylog" in data:
            keylog = self.path.parent / self.text(data, "keylog", "run: ")
            if not keylog.is_file():
                self.fail(data.key_lines["keylog"], f"run: no key log file {display_path(keylog)}")
        return RunSource(trace=trace, line=data.line, keylog=keylog)

    def scenario(self, value, line: int, what: str, extra=(), base: dict | None = None) -> dict:
        """Scenario options, checked (on top of ``base``, the run an experiment changes)."""
        data = self.mapping(value, line, what.rstrip(": "))
        for key in data:
            if key not in SCENARIO_OPTIONS and key not in extra:
                self.fail(data.key_lines[key], f"{what}unknown scenario option {key!r} (known: "
                                               f"{', '.join(sorted(SCENARIO_OPTIONS | set(extra)))})")
        defaults = Scenario()
        for key, value in data.items():
            if key in extra or (value is None and key in OPTIONAL_OPTIONS):
                continue
            if not _fits(value, getattr(defaults, key)):
                self.fail(data.key_lines[key], f"{what}{key} must be {_kind_of(getattr(defaults, key))}, "
                                               f"not {value!r}")
        options = {**(base or {}), **{k: v for k, v in data.items() if k not in extra}}
        try:
            Scenario(**options).validate()
        except (TypeError, ValueError) as exc:
            self.fail(data.line, f"{what}{exc}")
        return data

    def step(self, number: int, value, line: int, source: RunSource) -> Step:
        where = f"step {number}: "
        data = self.mapping(value, line, f"step {number}")
        kind = data.get("kind")
        if kind not in STEP_KINDS:
            self.fail(data.key_lines.get("kind", data.line),
                      f"{where}unknown step kind {kind!r} (kinds: {', '.join(STEP_KINDS)})" if "kind" in data
                      else f"{where}missing 'kind' (one of {', '.join(STEP_KINDS)})")
        common = ("kind", "text", "message", "field", "hint", "id")
        own = {"read": (), "question": ("choices", "asks"), "compute": ("compute",),
               "experiment": ("change", "expect")}[kind]
        required = {"read": (), "question": ("choices",), "compute": ("compute",),
                    "experiment": ("change", "expect")}[kind]
        self.keys(data, common + own, ("text",) + required, where)
        if "field" in data and "message" not in data:
            self.fail(data.key_lines["field"], f"{where}a field needs the message it is in ('message')")
        fields = dict(number=number, kind=kind, text=self.text(data, "text", where), line=data.line)
        for key in ("message", "field", "hint", "id"):
            if key in data:
                value = data[key]
                fields[key] = str(value).strip() if isinstance(value, (str, int)) else self.text(data, key, where)
        if kind == "question":
            fields["choices"] = self.choices(data["choices"], data.key_lines["choices"], where)
            if "asks" in data:
                if data["asks"] != "next-message":
                    self.fail(data.key_lines["asks"], f"{where}asks must be 'next-message', not {data['asks']!r}")
                if "message" not in data:
                    self.fail(data.key_lines["asks"], f"{where}asks: next-message needs the 'message' it follows")
                fields["asks"] = data["asks"]
        elif kind == "compute":
            fields["compute"] = self.named(data["compute"], data.key_lines["compute"], where + "compute: ",
                                           COMPUTATIONS)
        elif kind == "experiment":
            if source.scenario is None and source.sample is None:
                self.fail(data.line, f"{where}an experiment needs a run made from a scenario or an "
                                     "in-process sample, not a recorded trace")
            fields["change"] = self.change(data["change"], data.key_lines["change"], where + "change: ",
                                           base_options(source))
            fields["expect"] = self.named(data["expect"], data.key_lines["expect"], where + "expect: ",
                                          OBSERVATIONS)
        return Step(**fields)

    def choices(self, value, line: int, where: str) -> tuple[Choice, ...]:
        if not isinstance(value, LocatedList) or len(value) < 2:
            self.fail(line, f"{where}choices must be a list of two or more answers")
        choices = []
        for item, item_line in zip(value, value.item_lines):
            data = self.mapping(item, item_line, f"{where}a choice")
            self.keys(data, ("answer", "right", "feedback"), ("answer", "feedback"), where)
            right = data.get("right", False)
            if not isinstance(right, bool):
                self.fail(data.key_lines["right"], f"{where}right must be true or false, not {right!r}")
            choices.append(Choice(str(data["answer"]).strip(), right, self.text(data, "feedback", where),
                                  data.line))
        rights = [c for c in choices if c.right]
        if len(rights) != 1:
            self.fail(line, f"{where}a question needs exactly one right answer, this one has {len(rights)}")
        answers = [c.answer.lower() for c in choices]
        for choice in choices:
            if answers.count(choice.answer.lower()) > 1:
                self.fail(choice.line, f"{where}the answer {choice.answer!r} is given twice")
        return tuple(choices)

    def named(self, value, line: int, where: str, registry: dict) -> Named:
        """``name`` alone, or a mapping with ``check`` (observations) or ``name`` (computations)
        and the parameters that one takes."""
        key = "check" if registry is OBSERVATIONS else "name"
        if isinstance(value, str):
            name, params, line_of = value, {}, {}
        else:
            if not isinstance(value, Located):
                self.fail(line, f"{where}give a {'check' if key == 'check' else 'computation'}'s name, "
                                f"or a mapping with {key!r} and its parameters")
            data = value
            if key not in data:
                self.fail(data.line, f"{where}missing {key!r} (one of {', '.join(registry)})")
            name, line, line_of = data[key], data.line, data.key_lines
            params = {k: v for k, v in data.items() if k != key}
        if name not in registry:
            self.fail(line_of.get(key, line), f"{where}unknown {'check' if key == 'check' else 'computation'} "
                                              f"{name!r} (known: {', '.join(registry)})")
        entry = registry[name]
        for param in params:
            if param not in entry.params:
                self.fail(line_of.get(param, line), f"{where}{name} takes no {param!r}"
                          + (f" (it takes {', '.join(entry.params)})" if entry.params else ""))
        for param in entry.required:
            if param not in params:
                self.fail(line, f"{where}{name} needs {param!r}")
        try:
            entry.validate(params)
        except ValueError as exc:
            self.fail(line, f"{where}{name}: {exc}")
        return Named(name, params, line)

    def change(self, value, line: int, where: str, base: dict) -> dict:
        data = self.scenario(value, line, where, extra=(ATTACK_KEY,), base=base)
        if not data:
            self.fail(line, f"{where}an experiment must change something")
        if ATTACK_KEY in data:
            from ..attacks import ATTACKS

            attack = data[ATTACK_KEY]
            attack = {"name": attack} if isinstance(attack, str) else attack
            attack_line = data.key_lines[ATTACK_KEY]
            attack = self.mapping(attack, attack_line, where + ATTACK_KEY)
            name = attack.get("name")
            if name not in ATTACKS:
                self.fail(attack_line, f"{where}unknown attack {name!r} (known: {', '.join(ATTACKS)})")
            settings = {k: str(v) for k, v in attack.items() if k != "name"}
            try:
                ATTACKS[name].resolve(settings)
            except ValueError as exc:
                self.fail(attack_line, f"{where}attack {name}: {exc}")
            if len(data) > 1:
                self.fail(attack_line, f"{where}an attack sets up its own session: change nothing else with it")
            return {ATTACK_KEY: {"name": name, **settings}}
        return dict(data)
