"""The progress bar of the commands that work through posts (import, rescore, delete): what it is at, how
many posts of how many, how fast, and the time left when the total is known."""

from __future__ import annotations

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
from rich.text import Text


class RateColumn(ProgressColumn):
    """Posts a second, and the time left when the total is known: an import of millions of posts
    with the learned analyzer takes hours, and the count alone did not say how many."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("")
        left = f" · {_duration((task.total - task.completed) / speed)} left" if task.total else ""
        return Text(f"{speed:,.0f}/s{left}", style="progress.data.speed")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def posts_progress(console: Console) -> Progress:
    # markup=False: the description names the file being read, and a file name is not markup ("[red]x.jsonl")
    return Progress(SpinnerColumn(), TextColumn("{task.description}", style="progress.description", markup=False),
                    BarColumn(), MofNCompleteColumn(), TextColumn("posts"), RateColumn(), TimeElapsedColumn(),
                    console=console, transient=True)
