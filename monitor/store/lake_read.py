"""What the read side needs of an attached Parquet lake (``monitor.store.lake``), without pyarrow: is
a lake attached, the relation of mention facts with its rows, the time range, a few posts' texts.
The summary imports this on every start, so it stays light."""

from __future__ import annotations

import duckdb

PART_COLUMN = "lake_part"
DEDUP_ORDER = f"source_file, source_line, {PART_COLUMN}"  # of a post's copies, the lake keeps the first in this order


LAKE_FACTS = "lake_new_mention_facts"  # the attached lake's mention facts whose posts the database lacks
ALL_LAKE_FACTS = "lake_mention_facts"  # every mention fact of the attached lake
LAKE_NOTABLE = "lake_notable"  # candidates of the summary's notable lists (store/lake.py notable_sql)
NOTABLE_PER_DAY = 128  # groups per list, day and scope in LAKE_NOTABLE
LAKE_AUTHORS = "lake_authors"  # posts per author over the whole lake (store/lake.py authors_sql)


def attached(con: duckdb.DuckDBPyConnection) -> bool:
    """Is a lake attached to this connection (stored or TEMP views, with the local union)?"""
    row = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [LAKE_FACTS]).fetchone()
    return bool(row and row[0])


def facts_source(con: duckdb.DuckDBPyConnection, local: str) -> str:
    """The relation of mention facts a summary reads: ``local`` (the database's own), plus the
    attached lake's rows the database lacks when a lake is attached; the lake's alone when the
    database holds no post (the anti-join against the posts cost more than reading ten million facts)."""
    if not attached(con):
        return local
    if not _has_posts(con):
        return ALL_LAKE_FACTS
    return f"(SELECT * FROM {local} UNION ALL BY NAME SELECT * FROM {LAKE_FACTS})"


def has_authors(con: duckdb.DuckDBPyConnection) -> bool:
    """Does the attached lake keep the posts per author (refreshed by this version)?"""
    return _has_rows(con, LAKE_AUTHORS)


def has_notable(con: duckdb.DuckDBPyConnection) -> bool:
    """Does the attached lake keep candidates of the notable lists (refreshed by this version)?"""
    return _has_rows(con, LAKE_NOTABLE)


def lake_views_outdated(con: duckdb.DuckDBPyConnection) -> bool:
    """Are an attached lake's views those of an earlier version (stored in the database before the
    lake kept its summary files)? Attaching again replaces them."""
    if not attached(con):
        return False
    found = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name IN (?, ?)",
                        [LAKE_NOTABLE, LAKE_AUTHORS]).fetchone()
    return not found or found[0] < 2


def _has_rows(con: duckdb.DuckDBPyConnection, view: str) -> bool:
    """Is a derived file of the attached lake there? Its view is missing where a lake was attached by
    an earlier version (views stored in the database), and empty before the lake's first refresh."""
    exists = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [view]).fetchone()
    return bool(exists and exists[0]) and con.execute(f"SELECT 1 FROM {view} LIMIT 1").fetchone() is not None


def _has_posts(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT 1 FROM posts LIMIT 1").fetchone() is not None


def post_texts(con: duckdb.DuckDBPyConnection, keys: list[str]) -> list[tuple[str, str, str | None]]:
    """(post_key, text, url) of a few of the attached lake's posts, the copy ``lake_posts`` keeps,
    without deduplicating the whole lake (over ten million posts that took seconds a call)."""
    return con.execute(
        f"SELECT post_key, text, url FROM lake_posts_parts WHERE post_key IN (SELECT unnest(?::VARCHAR[])) "
        f"QUALIFY row_number() OVER (PARTITION BY platform, post_id ORDER BY {DEDUP_ORDER}) = 1", [keys]).fetchall()


def posts_and_newest(con: duckdb.DuckDBPyConnection) -> tuple[int, object]:
    """The attached lake's posts (as of its last refresh) and its newest post's time."""
    row = con.execute(f"SELECT count(*) FILTER (WHERE post_first), max(created_at) FROM {ALL_LAKE_FACTS}").fetchone()
    return (int(row[0]), row[1]) if row else (0, None)


def time_range_sql(con: duckdb.DuckDBPyConnection) -> str:
    """SQL for (first, last) created_at over the stored posts and an attached lake's."""
    local = "SELECT min(created_at) AS first, max(created_at) AS last FROM posts"
    if not attached(con):
        return local
    lake = ALL_LAKE_FACTS if not _has_posts(con) else LAKE_FACTS  # the former from the Parquet statistics
    return (f"SELECT min(first), max(last) FROM ({local} UNION ALL "
            f"SELECT min(created_at), max(created_at) FROM {lake})")
