"""``kata stop``: stop now what the kata runs in the background for you (the warm judge, its
sandbox and the bonus's model server: ``grader.judge.footprint``), and say what it freed.
Without it they leave by themselves: the judge after its idle minutes (``KATA_WARM_IDLE_S``),
the model server a short while after the bonus's tests."""

from __future__ import annotations

from grader.core import i18n
from grader.core.i18n import _
from grader.judge import footprint


def stop_background(lang: str) -> int:
    """Stop every warm judge of this user (and what each started); exit code 0."""
    with i18n.use(lang):
        found = footprint.judges()
        if not found:
            print(_("Nothing of the kata runs in the background."))
            return 0
        what = footprint.what_runs(found)
        processes = footprint.processes_text(found)
        memory = footprint.size_text(footprint.total_memory(found), lang)
        for judge in found:
            footprint.stop(judge)
        print(
            _("Stopped {what} ({processes}): about {memory} of memory freed.").format(
                what=what, processes=processes, memory=memory
            )
        )
        return 0
