"""The Illustrated SSH Connection: one self-contained HTML page for a session. Each message is
a record (direction, phase, one line of what it did) with a stable anchor; opening it shows its
bytes with every field annotated (the plaintext packet, and the wire form when encrypted), the
fields with their types, meanings and RFC sections, what it changed, and the calculations that
happened there, each with a command that prints the same value (``recompute.py``).

Nothing on the page comes from the network: style and script are inline, fonts are the
reader's own monospace. Records are drawn by the script when opened, from data embedded as
JSON, so a long trace opens at once. A seeded run gives the same page byte for byte."""

from __future__ import annotations

import html
import json
import re

from ..events import VersionRecord
from ..sides import Direction
from ..trace.elide import ELIDE_AFTER, BulkCounter
from ..trace.model import Trace, TraceEvent, shortened_event
from .annotate import PHASES, FieldItem, hex_sections, message_items, narrowest_owners, phase_of
from .explain import KeyContext, KeyContexts, plain_line
from .recompute import Calculation, calculations
from .render import summary_lines
from .transcript import format_change, format_interception

VALUE_LIMIT = 240  # characters of a field's value shown in the table (its bytes are all there)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unit"


def _anchors(trace: Trace) -> list[str]:
    """A stable anchor per record: the message's name, numbered from its second occurrence
    (``kex-ecdh-reply``, ``channel-data-2``); version lines by side."""
    seen: dict[str, int] = {}
    out = []
    for event in trace.events:
        if event.kind == "version":
            base = f"version-{Direction(event.direction).sender}"
        elif event.message is not None:
            base = _slug(event.message.spec.name)
        else:
            base = "unopened" if event.kind == "packet" else "raw"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def _summary(event: TraceEvent) -> str:
    record = event.record
    if isinstance(record, VersionRecord):
        return record.text
    if event.kind == "raw":
        return f"{len(record.wire)} bytes nobody could open"
    protection = "encrypted" if record.encrypted else "in clear"
    text = f"seq {record.seq}, {record.wire_length} bytes, {protection}"
    return text if event.opened else text + ", not opened"


def _what(event: TraceEvent) -> str:
    """One line: what the message is for."""
    if event.kind == "version":
        return "identification line"
    return event.message.spec.doc if event.message is not None else ""


def _explanation(event: TraceEvent) -> str:
    if event.kind == "version":
        return ("The identification line: each side sends one, in clear, before anything else "
                "(RFC 4253 4.2); both go into the exchange hash.")
    message = event.message
    if message is None:
        return "Bytes that could not be decrypted or decoded; the notes say why."
    return f"{message.spec.doc[:1].upper()}{message.spec.doc[1:]} ({message.spec.rfc})."


def _record(event: TraceEvent, anchor: str, calcs: list[Calculation], context: KeyContext) -> dict:
    items = message_items(event, context)
    flat: list[tuple[FieldItem, int, int]] = []  # item, parent id, depth

    def visit(nodes: list[FieldItem], parent: int, depth: int) -> None:
        for node in nodes:
            flat.append((node, parent, depth))
            visit(node.children, len(flat) - 1, depth + 1)

    visit(items, -1, 0)
    views = [hex_sections(event, wire=False)]
    encrypted = event.kind == "packet" and event.opened and event.record.encrypted
    if encrypted:
        views.append(hex_sections(event, wire=True))
    sections = []
    for view, sections_of_view in enumerate(views):
        for section in sections_of_view:
            placed = [(number, section.spaces[item.space] + item.span[0], section.spaces[item.space] + item.span[1])
                      for number, (item, _, _) in enumerate(flat) if item.space in section.spaces]
            owners = narrowest_owners(len(section.data), [(start, end) for _, start, end in placed])
            runs = [placed[owner][0] if owner >= 0 else -1 for owner in owners]
            sections.append({"title": section.title, "wire": view == 1, "hex": section.data.hex(),
                             "parts": [list(p) for p in section.parts], "runs": _run_lengths(runs)})
    fields = []
    for item, parent, depth in flat:
        f = item.field
        value = "" if item.title else item.value_text
        fields.append({"n": item.title or f.name, "t": "" if item.title else f.type,
                       "v": value if len(value) <= VALUE_LIMIT else value[:VALUE_LIMIT] + "…",
                       "d": item.explanation, "r": item.rfc, "p": parent, "k": depth})
    changes = []
    for side, change in event.changes:
        changes += [line.strip() for line in format_change(side, change, detail=False)]
    changes += [line.strip() for line in format_interception(event)]
    notes = list(getattr(event.record, "notes", None) or []) + list(event.notes)
    return {"id": anchor, "sections": sections, "fields": fields, "changes": changes,
            "notes": notes, "plain": plain_line(event), "explain": _explanation(event),
            "calcs": [{"key": c.key, "title": c.title, "text": c.explanation, "cmd": c.command,
                       "expect": c.expect} for c in calcs]}


def _run_lengths(runs: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for i, value in enumerate(runs):
        if out and out[-1][2] == value and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1, value])
    return out


def illustrated_page(trace: Trace, title: str, elide_after: int | None = ELIDE_AFTER) -> str:
    """The whole page as one string of HTML. Bulk channel data past ``elide_after`` bytes a
    direction is shortened as saved traces shorten it (None keeps every byte)."""
    e = html.escape
    anchors = _anchors(trace)
    by_event: dict[int, list[Calculation]] = {}
    for calc in calculations(trace):
        by_event.setdefault(calc.at, []).append(calc)
    records, rows = [], []
    phase = None
    bulk = BulkCounter(elide_after)
    contexts = KeyContexts()
    for position, event in enumerate(trace.events):
        shortened = bulk.shorten(event)
        if shortened is not None:
            event = shortened_event(event, shortened)
        phase = phase_of(event, phase)
        calcs = by_event.get(event.index, [])
        records.append(_record(event, anchors[position], calcs, contexts.at(trace.events, position)))
        arrow = Direction(event.direction).arrow
        name = "VERSION" if event.kind == "version" else (event.name if event.kind == "packet" else "raw bytes")
        marks = []
        if calcs:
            marks.append(f'<span class="mark calc" title="calculations">{len(calcs)} calc</span>')
        if event.interception is not None:
            marks.append(f'<span class="mark attack">attacker: {e(event.interception.action)}</span>')
        if not event.delivered:
            marks.append('<span class="mark lost">not delivered</span>')
        rows.append(
            f'<details class="rec {Direction(event.direction)}" id="{anchors[position]}" data-i="{position}">'
            f'<summary><a class="num" href="#{anchors[position]}">#{event.index}</a>'
            f'<span class="dir">{e(arrow)}</span><span class="phase">{e(PHASES.get(phase, phase))}</span>'
            f'<b>{e(name)}</b> <span class="what">{e(_what(event))}</span> '
            f'<span class="sum">({e(_summary(event))})</span>{"".join(marks)}</summary>'
            f'<div class="body"></div></details>')
    calc_index = "".join(
        f'<li><a href="#{anchors[i]}">#{trace.events[i].index} {e(c.title)}</a></li>'
        for i, event in enumerate(trace.events) for c in by_event.get(event.index, []))
    data = json.dumps(records, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    summary = "".join(f"<li>{e(line)}</li>" for line in summary_lines(trace)
                      if not line.startswith("created:"))
    values = {"title": e(f"The Illustrated SSH Connection: {title}"), "summary": summary,
              "calc_index": calc_index or "<li>none in this trace</li>", "records": "\n".join(rows),
              "count": str(len(trace.events)), "data": data}
    # One pass over the template: what a peer wrote (in a version line, say) is never read
    # as a placeholder.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], PAGE)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
:root { --mono: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; }
body { font-family: system-ui, "DejaVu Sans", sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em; color: #1b1b1b; background: #fcfcfa; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
.controls { position: sticky; top: 0; background: #fcfcfa; padding: .4em 0; border-bottom: 1px solid #ddd; z-index: 2; }
.controls label, .controls button { margin-right: 1em; font-size: .95em; }
details.rec { border-left: 4px solid #9bb; margin: .25em 0; background: #fff; scroll-margin-top: 3em; }
.calc, .body h3 { scroll-margin-top: 3em; }
details.rec.s2c { border-left-color: #c9a46b; }
details.rec > summary { cursor: pointer; padding: .3em .6em; font-family: var(--mono); font-size: .92em; }
details.rec[open] > summary { background: #eef3f3; }
details.rec.s2c[open] > summary { background: #f6efe3; }
.num { display: inline-block; width: 3.5em; color: #666; text-decoration: none; }
.dir { display: inline-block; width: 11em; }
.phase { display: inline-block; width: 10em; color: #557; }
.sum { color: #777; font-size: .9em; } .what { color: #333; font-family: system-ui, sans-serif; }
.mark { margin-left: .6em; padding: 0 .4em; border-radius: 3px; font-size: .85em; white-space: nowrap; }
.mark.calc { background: #dfe9ff; } .mark.attack { background: #ffd9d0; } .mark.lost { background: #eee; color: #a00; }
.body { padding: .4em 1em 1em 1.2em; }
.explain { margin: .2em 0 .6em; color: #444; }
.plain { margin: .3em 0 .2em; font-size: 1.05em; }
.hex { font-family: var(--mono); font-size: .88em; white-space: pre; margin: .3em 0 .8em; }
.hex .row { display: block; }
.hex .off { color: #999; margin-right: 1em; }
.hex .asc { color: #777; margin-left: 1em; }
.b { cursor: pointer; padding: 0 1px; border-radius: 2px; }
.b.hl { background: #ffe58a !important; outline: 1px solid #d4b000; }
.p-length, .p-clear { color: #0b6e99; } .p-padlen { color: #7a3e9d; } .p-payload { color: #1b1b1b; }
.p-padding { color: #999; } .p-mac { color: #b3261e; } .p-encrypted { color: #6b4f00; } .p-version { color: #1b1b1b; }
.annotate .b[data-f] { background: hsl(var(--h) 80% 88%); }
.sw { display: none; width: .8em; height: .8em; margin-right: .4em; border-radius: 2px; background: hsl(var(--h) 80% 80%); }
.annotate .sw { display: inline-block; }
.legend span { display: inline-block; margin-right: 1em; font-family: var(--mono); font-size: .85em; }
table.fields { border-collapse: collapse; font-size: .88em; width: 100%; }
table.fields td { border-top: 1px solid #eee; padding: .15em .4em; vertical-align: top; }
table.fields td.n { font-family: var(--mono); white-space: nowrap; }
table.fields td.t { font-family: var(--mono); color: #557; white-space: nowrap; }
table.fields td.v { font-family: var(--mono); word-break: break-all; }
table.fields td.r { color: #777; white-space: nowrap; }
table.fields tr.hl td { background: #fff3c4; }
.info { font-size: .9em; min-height: 1.4em; color: #333; background: #f4f4f0; padding: .2em .5em; border-radius: 3px; }
.changes { font-family: var(--mono); font-size: .88em; }
.calc { border: 1px solid #cbd8f0; background: #f5f8ff; padding: .5em .8em; margin: .6em 0; border-radius: 4px; }
.calc pre { background: #1f2430; color: #e8e8e8; padding: .6em; overflow-x: auto; font-size: .82em; }
.calc pre.expect { background: #e9efe2; color: #1b1b1b; }
h3 { font-size: 1em; margin: .8em 0 .3em; }
@media print {
  .controls { display: none; } details.rec { break-inside: avoid-page; }
  .calc pre { white-space: pre-wrap; word-break: break-all; }
}
</style></head>
<body>
<h1>{{title}}</h1>
<p>Every message of one SSH session, as it travelled. Open a record to see its bytes with every
field labelled (hover a byte or a field), what it changed, and the calculations made there,
each with a command you can run to get the same value (Python 3 and the <code>cryptography</code>
package).</p>
<ul class="summary">{{summary}}</ul>
<details class="calcs"><summary>Calculations in this session</summary><ul>{{calc_index}}</ul></details>
<div class="controls">
<label><input type="checkbox" id="annotate-all"> annotate all fields</label>
<button type="button" id="open-all">open all</button><button type="button" id="close-all">close all</button>
<span class="legend"><span class="p-length">length</span><span class="p-padlen">padding length</span><span class="p-payload">payload</span><span class="p-padding">padding</span><span class="p-mac">MAC / tag</span><span class="p-encrypted">encrypted</span></span>
</div>
<main id="records" data-count="{{count}}">
{{records}}
</main>
<script type="application/json" id="data">{{data}}</script>
<script>
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\"": "&quot;"}[c]));
function hue(f) { return (f * 47) % 360; }
function renderSection(sec, rec, r) {
  const fieldOf = new Int32Array(sec.hex.length / 2).fill(-1);
  for (const [s, e, f] of sec.runs) for (let i = s; i < e; i++) fieldOf[i] = f;
  const partOf = new Array(fieldOf.length).fill("");
  for (const [s, e, p] of sec.parts) for (let i = s; i < e; i++) partOf[i] = p;
  const out = [];
  for (let row = 0; row < fieldOf.length; row += 16) {
    let line = '<span class="row"><span class="off">' + row.toString(16).padStart(4, "0") + '</span>';
    let asc = "";
    for (let i = row; i < Math.min(row + 16, fieldOf.length); i++) {
      const byte = sec.hex.substr(i * 2, 2), f = fieldOf[i];
      const fd = f >= 0 ? rec.fields[f] : null;
      const tip = fd ? esc(fd.n + (fd.t ? " (" + fd.t + ")" : "") + (fd.d ? ": " + fd.d : "") + (fd.r ? " [" + fd.r + "]" : "")) : "";
      line += '<span class="b p-' + partOf[i] + '"' + (f >= 0 ? ' data-f="' + f + '" style="--h:' + hue(f) + '" title="' + tip + '"' : "") + '>' + byte + '</span>' + (i % 8 === 7 ? "  " : " ");
      const code = parseInt(byte, 16);
      asc += code >= 32 && code < 127 ? esc(String.fromCharCode(code)) : ".";
    }
    out.push(line + '<span class="asc">' + asc + '</span></span>');
  }
  return '<h3>' + esc(sec.title) + '</h3><div class="hex" data-r="' + r + '">' + out.join("") + '</div>';
}
function renderRecord(det) {
  const body = det.querySelector(".body");
  if (body.dataset.done) return;
  const rec = DATA[+det.dataset.i];
  let h = '<p class="plain">' + esc(rec.plain) + '</p><p class="explain">' + esc(rec.explain) + '</p>';
  for (const n of rec.notes) h += '<p class="explain">note: ' + esc(n) + '</p>';
  h += rec.sections.map(s => renderSection(s, rec, det.dataset.i)).join("");
  h += '<div class="info">hover or click a byte or a field</div>';
  h += '<table class="fields"><tbody>' + rec.fields.map((f, i) =>
    '<tr data-f="' + i + '"><td class="n" style="padding-left:' + (0.4 + f.k * 1.2) + 'em"><span class="sw" style="--h:' + hue(i) + '"></span>' + esc(f.n) + '</td><td class="t">' + esc(f.t) +
    '</td><td class="v">' + esc(f.v) + '</td><td>' + esc(f.d) + '</td><td class="r">' + esc(f.r) + '</td></tr>').join("") + '</tbody></table>';
  if (rec.changes.length) h += '<h3>What it changed</h3><div class="changes">' + rec.changes.map(c => esc(c)).join("<br>") + '</div>';
  for (const c of rec.calcs) {
    h += '<div class="calc" id="' + esc(rec.id) + '-' + esc(c.key) + '"><h3>' + esc(c.title) + '</h3><p>' + esc(c.text) +
      '</p><pre class="cmd">' + esc(c.cmd) + '</pre><p>prints</p><pre class="expect">' + esc(c.expect) + '</pre></div>';
  }
  body.innerHTML = h;
  body.dataset.done = "1";
}
function highlight(det, f, on) {
  const rec = DATA[+det.dataset.i];
  det.querySelectorAll('[data-f="' + f + '"]').forEach(el => el.classList.toggle("hl", on));
  if (on) {
    const fd = rec.fields[f];
    det.querySelector(".info").textContent = fd.n + (fd.t ? " (" + fd.t + ")" : "") + (fd.v ? " = " + fd.v : "") + (fd.d ? " — " + fd.d : "") + (fd.r ? " [" + fd.r + "]" : "");
  }
}
document.addEventListener("toggle", ev => { if (ev.target.matches && ev.target.matches("details.rec") && ev.target.open) renderRecord(ev.target); }, true);
document.getElementById("records").addEventListener("mouseover", ev => {
  const el = ev.target.closest("[data-f]"); if (!el) return;
  const det = el.closest("details.rec"); highlight(det, el.dataset.f, true);
});
document.getElementById("records").addEventListener("mouseout", ev => {
  const el = ev.target.closest("[data-f]"); if (!el) return;
  const det = el.closest("details.rec"); highlight(det, el.dataset.f, false);
});
document.getElementById("records").addEventListener("click", ev => {
  const el = ev.target.closest(".b[data-f]"); if (!el) return;
  const det = el.closest("details.rec");
  det.querySelectorAll("tr.hl").forEach(r => r.classList.remove("hl"));
  const row = det.querySelector('tr[data-f="' + el.dataset.f + '"]');
  if (row) { row.classList.add("hl"); row.scrollIntoView({block: "nearest"}); }
  highlight(det, el.dataset.f, true);
});
document.getElementById("annotate-all").addEventListener("change", ev => document.body.classList.toggle("annotate", ev.target.checked));
function openAll(open) { document.querySelectorAll("details.rec").forEach(d => { if (open) renderRecord(d); d.open = open; }); }
document.getElementById("open-all").addEventListener("click", () => openAll(true));
document.getElementById("close-all").addEventListener("click", () => openAll(false));
window.addEventListener("beforeprint", () => openAll(true));
function followHash() {
  const id = decodeURIComponent(location.hash.slice(1));
  if (!id) return;
  let target = document.getElementById(id);
  if (!target) {  // a calculation inside a record not drawn yet: draw the record whose anchor starts it
    const owner = [...document.querySelectorAll("details.rec")].filter(d => id.startsWith(d.id + "-")).pop();
    if (owner) { renderRecord(owner); owner.open = true; target = document.getElementById(id); }
  }
  if (!target) return;
  const det = target.closest("details.rec");
  if (det) { renderRecord(det); det.open = true; }
  target.scrollIntoView();
}
window.addEventListener("hashchange", followHash);
followHash();
</script>
</body></html>
"""
