"""The plain-text validate-patch report, fit to paste into a mailing-list reply.

:func:`build_report` takes per-property results only (``BatteryResult``
from tools.battery, or any object with the same fields), so the kernel-C
variant of validate-patch renders its results the same way.
"""

from __future__ import annotations

from tools.battery import BatteryResult, PropertyResult

NEW, FIXED, SAME_BAD = "NEW VIOLATION", "FIXED", "unchanged"


def _changes(patched: BatteryResult, base: BatteryResult | None) -> list[tuple[str, PropertyResult]]:
    out = []
    for name, r in patched.properties.items():
        b = base.properties.get(name) if base else None
        if r.status == "violated" and (b is None or b.status != "violated"):
            out.append((NEW, r))
        elif r.status == "holds" and b is not None and b.status == "violated":
            out.append((FIXED, b))
    return out


def _tag(r: PropertyResult) -> str:
    return f"{r.name} ({r.kind}{', finding ' + r.finding if r.finding else ''})"


def _failing_proofs(result: BatteryResult | None) -> set[str]:
    if result is None or isinstance(result.proofs, str):
        return set()
    return {p["name"] for p in result.proofs if not p["holds"]}


def new_proof_failures(patched: BatteryResult, base: BatteryResult | None) -> list[str]:
    """Lemma rows REFUTED on the patched port (outside the ledger) that the unpatched port does not refute."""
    return sorted(_failing_proofs(patched) - _failing_proofs(base))


def verdict(patched: BatteryResult, base: BatteryResult | None) -> tuple[int, str]:
    """(exit status, one-line verdict): 1 when a property or lemma without a ledger entry breaks, else 0."""
    ch = _changes(patched, base)
    new = [r for k, r in ch if k == NEW and not r.finding]
    lemmas = new_proof_failures(patched, base)
    if lemmas and not new:
        return 1, f"REJECT: refutes lemma {', '.join(lemmas)}"
    fixed = [r for k, r in ch if k == FIXED]
    corpus_fixed = [c for c in patched.corpus if not c.match and c.finding and c.got == "Agree"]
    if new:
        also = f"; refutes lemma {', '.join(lemmas)}" if lemmas else ""
        return 1, f"REJECT: breaks {', '.join(r.name for r in new)}{also}"
    if fixed or corpus_fixed or ch:
        names = sorted({r.finding or r.name for r in fixed} | {c.finding or c.file for c in corpus_fixed})
        return 0, f"IMPROVES: fixes {', '.join(names)}; nothing new breaks" if names else "CHANGED: see above"
    return 0, "NO CHANGE relative to the unpatched port"


def build_report(patched: BatteryResult, base: BatteryResult | None, title: str, changes: list[str] | None = None,
                 replay_hint: str = "") -> str:
    """The report: what changed, every property's verdict with its bounds, the corpus, the proofs."""
    lines = [f"validate-patch: {title}", ""]
    if changes:
        lines.append("The patch changes:")
        lines += [f"  {c}" for c in changes]
        lines.append("")
    corpus = f"; the regression corpus ({len(patched.corpus)} files)" if patched.corpus else ""
    lines.append(f"Checked within: {patched.bounds}{corpus}.")
    lines.append(f"Work: {patched.steps} walk steps in {patched.seconds} s (unpatched port: "
                 + (f"{base.steps} steps, {base.seconds} s)." if base else "not run)."))
    lines.append("")
    status, line = verdict(patched, base)
    lines.append(f"Verdict: {line}")
    lines.append("")
    ch = _changes(patched, base)
    lines.append("Changed relative to the unpatched port:")
    if not ch and all(c.match for c in patched.corpus):
        lines.append("  nothing: the same properties hold and break, every corpus file replays as recorded.")
    for kind, r in ch:
        lines.append(f"  {kind:<13} {_tag(r)}")
        if kind == NEW:
            lines.append(f"      first seen: {r.where}")
            if r.file:
                lines.append(f"      counterexample: {r.file}")
            if r.picture:
                lines.append(f"      picture:        {r.picture}")
            if r.file and replay_hint:
                lines.append(f"      replay:         {replay_hint.format(file=r.file)}")
        else:
            lines.append(f"      unpatched port: {r.where}")
    for c in patched.corpus:
        if not c.match:
            tag = f" ({c.finding})" if c.finding else ""
            what = "no longer reproduces" if c.finding and c.got == "Agree" else "replays differently"
            lines.append(f"  corpus        {c.file}{tag} {what}: recorded {c.expected!r}, now {c.got!r}")
            prop = c.expected.split()[1] if c.expected.startswith("Violates") else ""
            still = patched.properties.get(prop)
            if still is not None and still.status == "violated":
                lines.append(f"      but {prop} is still violated elsewhere: {still.where}")
    lines.append("")
    lines.append("Properties on the patched port:")
    for name, r in patched.properties.items():
        if r.status == "holds":
            state = "holds"
        elif r.finding:
            state = f"violated (recorded finding {r.finding})"
        else:
            state = "VIOLATED"
        lines.append(f"  {name:<34} {r.kind:<16} {state}")
        if r.status == "violated" and not r.finding:
            lines.append(f"      {r.where}")
            if r.file:
                lines.append(f"      file {r.file}" + (f", picture {r.picture}" if r.picture else ""))
    lines.append("")
    if patched.corpus:
        lines.append("Regression corpus on the patched port:")
    for c in patched.corpus:
        lines.append(f"  {'MATCH   ' if c.match else 'MISMATCH'} {c.finding or '-':<3} {c.file}: {c.got}")
    if patched.corpus:
        lines.append("")
    if isinstance(patched.proofs, str):
        lines.append(f"proofs: {patched.proofs}")
    else:
        lines.append("proofs (Z3 lemmas):")
        for p in patched.proofs:
            lines.append(f"  {p['name']:<34} {'holds' if p['holds'] else 'FAILS'} {p.get('detail', '')}".rstrip())
    lines.append("")
    lines.append("'holds' means no violation within the bounds above; it is not a proof.")
    return "\n".join(lines) + "\n"
