"""The progress bar of the commands that work through posts (import, rescore, delete): what it is at, how
many posts of how many, how fast, and the time left when the total is known."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress_bar import ProgressBar
from rich.table import Column
from rich.text import Text

from monitor.terminal import clock


class RateColumn(ProgressColumn):
    """Posts a second, and the time left when the total is known: an import of millions of posts
    with the learned analyzer takes hours, and the count alone did not say how many. An import does
    not know how many posts a file holds, but how much of it was read (the task's ``share`` of the
    input it began at ``since``, as of ``share_at``; times of ``time.monotonic()``): the time left for
    that file, at the pace so far."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("")
        left = f" · {clock((task.total - task.completed) / speed)} left" if task.total else ""
        share, since, share_at = (task.fields.get(name) for name in ("share", "since", "share_at"))
        if not task.total and share and since is not None and share_at is not None and share < 1:
            # as of the share's last update, counting down since
            spent = share_at - since
            left = f" · {clock(max(0.0, spent * (1 - share) / share - (time.monotonic() - share_at)))} left"
        return Text(f"{speed:,.0f}/s{left}", style="progress.data.speed")


class ShareBar(BarColumn):
    """The bar: done of the total where it is known, else how much of the file being read was read (the
    task's ``share``), else a pulse."""

    def render(self, task: Task) -> ProgressBar:
        share = task.fields.get("share")
        if task.total is not None or share is None:
            return super().render(task)
        return ProgressBar(total=1.0, completed=min(1.0, max(0.0, share)),
                           width=None if self.bar_width is None else max(1, self.bar_width),
                           animation_time=task.get_time(), style=self.style, complete_style=self.complete_style,
                           finished_style=self.finished_style, pulse_style=self.pulse_style)


def posts_progress(console: Console) -> Progress:
    # markup=False: the description names the file being read, and a file name is not markup ("[red]x.jsonl")
    # One line on an 80-column terminal: a narrow bar; a long file name or rate is cut, never wrapped.
    one_line = {"no_wrap": True, "overflow": "ellipsis"}
    return Progress(SpinnerColumn(), TextColumn("{task.description}", style="progress.description", markup=False,
                                                table_column=Column(**one_line)),
                    ShareBar(bar_width=20), MofNCompleteColumn(), TextColumn("posts"),
                    RateColumn(table_column=Column(**one_line)), TimeElapsedColumn(), console=console, transient=True,
                    # stdout stays the command's own: `monitor score` writes its results there while the bar
                    # runs (rich would send them to the bar's console, standard error, on a terminal)
                    redirect_stdout=False,
                    # a bar is for a terminal: elsewhere (a log, a pipe, 2>&1) it left an empty line behind
                    disable=not console.is_terminal)
