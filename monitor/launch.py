"""The `monitor` console script. It imports the CLI only when called: a worker process started by
``spawn`` runs the launching script's module as its main module again, and a script that imported
``monitor.cli`` at the top would load the whole CLI (and DuckDB) into every import worker
(120 MiB a worker instead of 85)."""


def main() -> None:
    from monitor.cli import main as cli

    cli()
