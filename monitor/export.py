"""Export posts with their mentions and scores to Parquet, CSV or JSON Lines (DuckDB COPY)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb


def export_posts(con: duckdb.DuckDBPyConnection, output: Path, fmt: str, target: str | None = None,
                 window: timedelta | None = None, platform: str | None = None) -> int:
    filters = ["TRUE"]
    params: list[object] = []
    if target:
        filters.append("post_key IN (SELECT post_key FROM mentions WHERE target_id = ?)")
        params.append(target)
    if window is not None:
        filters.append("p.created_at >= (SELECT max(created_at) FROM posts) - ?")
        params.append(window)
    if platform:
        filters.append("p.platform = ?")
        params.append(platform)
    query = f"""
        SELECT p.post_key, p.platform, p.post_id, p.url, p.created_at, p.author_id, p.author_handle,
               p.author_name, p.text, p.lang, p.reply_to, p.quote_of, p.repost_of,
               p.likes, p.reposts, p.replies, p.quotes,
               s.compound AS sentiment, s.compound_doc AS sentiment_doc, s.label AS sentiment_label,
               list({{'target_id': m.target_id, 'alias': m.alias, 'sentiment': ts.sentiment,
                     'stance': ts.stance, 'stance_score': ts.stance_score}} ORDER BY m.target_id)
                 FILTER (WHERE m.target_id IS NOT NULL) AS mentions,
               p.source, p.source_file, p.source_line, p.collected_at, p.tool_version
        FROM posts p
        LEFT JOIN post_sentiment s USING (post_key)
        LEFT JOIN mentions m USING (post_key)
        LEFT JOIN target_scores ts ON ts.post_key = m.post_key AND ts.target_id = m.target_id
        WHERE {' AND '.join(filters)}
        GROUP BY ALL
        ORDER BY p.created_at
    """
    rel = con.sql(query, params=params)
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        rel.write_parquet(str(output))
    elif fmt == "csv":
        # CSV has no nested types: mentions become JSON text.
        flat = con.sql(f"SELECT * REPLACE (to_json(mentions) AS mentions) FROM ({query})", params=params)
        flat.write_csv(str(output))
    else:
        con.sql(f"COPY ({query}) TO '{_quote(output)}' (FORMAT json)", params=params)
    count = con.execute(f"SELECT count(*) FROM ({query})", params).fetchall()
    return int(count[0][0])


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
