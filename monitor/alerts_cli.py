"""`monitor alerts test`: send a test alert to every configured sink and say what each answered;
`monitor alerts status`: what was delivered this week and what failed.

Reads the global context the main CLI sets (``ctx.obj``: ``.config``, ``.store``, ``.console``).
Register with ``main.add_command(alerts_group)``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table
from rich.text import Text

from monitor.alerts_config import AlertsConfig
from monitor.config import PACKAGED_CONFIG
from monitor.store import StoreError
from monitor.terminal import literal

if TYPE_CHECKING:
    from monitor.alerts import SinkResult


def _app() -> Any:
    obj = click.get_current_context().obj
    if obj is None:
        raise click.ClickException("internal error: no application context")
    return obj


def _alerts_config(app: Any) -> AlertsConfig:
    config = getattr(app.config, "alerts", None)
    return config if isinstance(config, AlertsConfig) else AlertsConfig()


def _render(results: list[SinkResult], console: Any) -> None:
    table = Table(title="Test alert", title_justify="left")
    for column in ("sink", "kind", "result", "answer", "tries", "error"):
        table.add_column(column, no_wrap=column != "error")
    for r in results:
        style = "green" if r.status == "sent" else "red"
        table.add_row(literal(r.sink), r.kind, Text(r.status, style=style),
                      "—" if r.http_status is None else str(r.http_status), str(r.attempts),
                      literal(r.error or "", one_line=True, limit=200))
    console.print(table)


@click.group("alerts")
def alerts_group() -> None:
    """Alerts to webhook, Slack, ntfy and e-mail sinks ([[alerts.sinks]] in the config)."""


@alerts_group.command("test")
@click.option("--json", "as_json", is_flag=True, help="What each sink answered, as JSON.")
def test_command(as_json: bool) -> None:
    """Send a test alert to every configured sink now (quiet hours and rate limits do not apply)
    and show what each answered. Exits 1 when any sink did not accept it."""
    app = _app()
    config = _alerts_config(app)
    if not config.sinks:
        source = getattr(app.config, "path", None)
        if source is None or source == PACKAGED_CONFIG:  # not a file to edit: it is replaced at each upgrade
            raise click.ClickException("no alert sinks configured, and no config of your own is in use: write one "
                                       "with `monitor init`, then add [[alerts.sinks]] to it (README, Alerts)")
        raise click.ClickException(f"no alert sinks configured: add [[alerts.sinks]] to {source}")
    store = getattr(app, "store", None)
    # Recorded in alert_deliveries when there is a database; a test never creates one.
    connect = store.write_connection if store is not None and store.path.exists() else None
    from monitor.alerts import send_test_alert  # its sinks import httpx: not at every command's start-up

    results = send_test_alert(config, connect)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        _render(results, app.console)
    if any(r.status != "sent" for r in results):
        raise SystemExit(1)


@alerts_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
def status_command(as_json: bool) -> None:
    """This week's deliveries per sink, and those that failed or wait to retry."""
    from monitor.alerts import alert_status
    from monitor.alerts.view import render_alert_status

    app = _app()
    try:
        with app.store.read() as con:
            data = alert_status(con)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        render_alert_status(data, app.console)
