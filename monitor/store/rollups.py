"""What the read side keeps ready, maintained by the writer in the same transaction as the rows:

- ``mention_facts``: one row per mention with what the summary's figures read (its post's platform,
  time, author and engagement, the target's sentiment and stance and the stance scorer), so a
  summary reads one table instead of joining mentions, posts and target_scores on their text keys
  (a materialised ``v_mentions`` without text, url and names).
- ``rollup_words``: per UTC day, target, kind ('hashtag' or 'term') and word, how many posts
  mentioning the target use the word.
- ``rollup_authors`` and ``rollup_notable``: the summary's candidates for a window over every stored
  post, its top authors and notable posts (CANDIDATES_DDL below).
- ``rollup_aliases``: the aliases the stored mentions matched, each once (ALIASES_DDL below).

Why: the summary's top hashtags and terms ran two regular expressions over the text of every mention
in the window at every call (45 of the 84 s of a whole-history summary over 1M posts). The words of a
post never change, so they are counted once, when the post is written, and a summary sums whole days
from here (the partial days at a window's edges from the rows; ``monitor.summary``).

The counts are the ones the views ``v_mention_hashtags`` and ``v_mention_terms`` give before their
exclusions: terms keep the common English words and the targets' own names (the summary leaves those
out when it reads, as the view does, so a change of STOPWORDS or of an alias needs no rebuild).

The table holds signed deltas: the writer appends the counts of the mentions it inserts (``add``),
and the negated counts of the mentions it deletes (a rescore, a deletion at the source) before it
deletes them, in the same transaction as the rows. Readers sum. ``compact`` folds a day's deltas into
one row per word (maintenance; rows appended since are flagged ``compacted = false``).

A seam for other row sources (a Parquet lake, another file): ``add(con, source_sql)`` counts the
words of any relation with the columns ``post_key, target_id, created_at, text`` (one row per mention,
its post's time and text); ``add_facts(con, mentions, scores, posts)`` adds the facts of any three
relations with the columns of the mentions, target_scores and posts tables; ``rebuild(con)``
replaces both from the stored rows (``rebuild(con, source_sql)``: the words from another relation).

Rows written past the writer (by hand, in SQL) are in neither: ``rollup_state`` holds the number of
mention rows the writer counted, and readers use the rows while it differs from the mentions table
(``in_step``), until a ``rebuild``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import duckdb

# The same expressions as the views v_mention_hashtags and v_mention_terms (store/schema.py); an
# import's workers find the same words in Python (monitor/words.py).
from monitor.words import HASHTAG_REGEX, LINKS_AND_HANDLES_REGEX, TERM_REGEX

DDL = """
CREATE TABLE rollup_words (
    day       DATE NOT NULL,          -- UTC day of the posts' created_at
    target_id VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL,       -- hashtag (lower-case, without '#') | term (lower-case, 3+ letters)
    word      VARCHAR NOT NULL,
    posts     BIGINT NOT NULL,        -- a signed delta: readers sum the rows of a key
    compacted BOOLEAN NOT NULL        -- false: appended since the day was last compacted
);
-- How many mention rows the rollups count. Not the number in mentions: rows were written another way
-- (by hand, in SQL) and the rollups do not count them; readers use the rows until a rebuild.
CREATE TABLE rollup_state (mentions BIGINT NOT NULL);
"""

# The word counts over all days: a window over the whole history sums these instead of every day's.
TOTALS_DDL = """
CREATE TABLE IF NOT EXISTS rollup_words_total (
    target_id VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL,
    word      VARCHAR NOT NULL,
    posts     BIGINT NOT NULL,        -- a signed delta, as in rollup_words
    compacted BOOLEAN NOT NULL
);
"""
FACTS_DDL = """
CREATE TABLE mention_facts (
    post_key              VARCHAR NOT NULL,
    target_id             VARCHAR NOT NULL,
    platform              VARCHAR NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    author_handle         VARCHAR,
    sentiment             DOUBLE,
    stance                VARCHAR,
    stance_scorer         VARCHAR,
    stance_scorer_version VARCHAR,
    engagement            BIGINT,
    post_first            BOOLEAN NOT NULL, -- the post's first mention (lowest target_id): counting these counts posts
    author_key            UBIGINT           -- the author as an integer (AUTHOR_KEY_SQL)
);
"""
# An integer for an author: 'platform:handle' in lower case (the form of the targets' own accounts),
# so the summary's top authors group ten million rows on a number, not two strings (2x faster), and
# finds the targets' own posts with a filter on it (4x faster than lower-casing every handle). Like
# the posts' key_hash, from MD5 (stable across DuckDB versions, unlike hash()). Readers confirm on
# the handle: one key may stand for two spellings of a handle, or, rarely, two authors.
AUTHOR_KEY_SQL = "('0x' || md5({platform} || ':' || lower({author}))[1:16])::UBIGINT"
ACCOUNT_KEY_SQL = "('0x' || md5({account})[1:16])::UBIGINT"  # the AUTHOR_KEY_SQL of an account 'platform:handle'
# An empty relation with the target_scores columns facts_sql reads (a batch without scores).
NO_SCORES = ("(SELECT NULL::VARCHAR AS post_key, NULL::VARCHAR AS target_id, NULL::DOUBLE AS sentiment, "
             "NULL::VARCHAR AS stance, NULL::VARCHAR AS stance_scorer, NULL::VARCHAR AS stance_scorer_version "
             "WHERE false)")
# Where the summary reads mention rows when the rollups are in step: the columns of v_mentions it
# reads, but the targets' names (joined to its few result rows instead).
FACTS_SOURCE = "mention_facts"


# The summary's notable posts: per list, its order over mention facts (column, descending); a list's
# rows have the first column above zero (below for an ascending list). Ties in a stable order,
# whichever way the rows are stored: then by post_key, stance, sentiment. Here, not in the summary,
# because an attached lake keeps candidates for them (store/lake.py).
NOTABLE: dict[str, tuple[tuple[str, bool], ...]] = {
    "most_positive": (("sentiment", True),),
    "most_negative": (("sentiment", False),),
    "most_engaged": (("engagement", True), ("created_at", True))}
NOTABLE_TIES = (("post_key", False), ("stance", False), ("sentiment", False))
# The columns of a notable candidate group: a post with one sentiment, stance and engagement.
NOTABLE_GROUP_COLUMNS = ("post_key", "platform", "created_at", "author_handle", "sentiment", "stance", "engagement")


# What the summary reads for a window holding every stored post (its default: the whole history),
# instead of sorting every mention fact for the notable lists (0.7 s at 10M posts) and grouping them
# by author (0.8 s), kept by the writer in the same transaction as the facts:
# - rollup_authors: per author (author_key), posts and the sum of sentiment as signed deltas (+ for
#   facts written, - for facts deleted), and the spellings of the handle seen; compaction folds an
#   author's deltas into one row. The top authors are among the leading compacted rows and every
#   author with a delta since (top_authors_sql).
# - rollup_notable: per list (NOTABLE) and scope ('all', or each target), the first NOTABLE_KEPT
#   groups of each batch of facts written (notable_part_sql). The first rows over every fact are
#   among these: each is among the first of its own batch. A deleted post's rows leave the table; each
#   may shorten by one the run of first rows that is complete (rollup_notable_state.removed), until
#   they are rebuilt from the facts (refresh_notable, after a rescore).
CANDIDATES_DDL = """
CREATE TABLE rollup_authors (
    author_key    UBIGINT NOT NULL,   -- mention_facts.author_key
    posts         BIGINT NOT NULL,    -- signed deltas: the author's posts (facts with post_first),
    sentiment_sum DOUBLE NOT NULL,    -- the sum of their mentions' sentiment
    scored        BIGINT NOT NULL,    -- and the mentions with a sentiment
    handle_min    VARCHAR NOT NULL,   -- the spellings seen (handle_min = handle_max: one handle)
    handle_max    VARCHAR NOT NULL,
    platform_min  VARCHAR NOT NULL,
    platform_max  VARCHAR NOT NULL,
    compacted     BOOLEAN NOT NULL    -- true: the author's one row as of the last compaction
);
CREATE TABLE rollup_notable (
    list          VARCHAR NOT NULL,   -- a NOTABLE list
    scope         VARCHAR NOT NULL,   -- 'all', or a target_id
    post_key      VARCHAR NOT NULL,
    platform      VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    author_handle VARCHAR,
    sentiment     DOUBLE,
    stance        VARCHAR,
    engagement    BIGINT,
    target_id     VARCHAR NOT NULL
);
-- Posts with candidate rows deleted since the candidates were last rebuilt from the facts.
CREATE TABLE rollup_notable_state (removed BIGINT NOT NULL);
INSERT INTO rollup_notable_state VALUES (0);
"""
NOTABLE_KEPT = 128  # groups per list and scope kept from each batch (and after compaction)
# Authors with a delta since the last compaction beyond which the summary groups the facts instead.
AUTHOR_DELTAS_MAX = 200_000


# The aliases the stored mentions matched (mentions.alias, each once): the summary's top terms leave
# out the words of a target's names and aliases, as view v_mention_terms does, and finding them in
# the mentions table scanned every mention (0.09 s at 10M posts). The writer adds those of the
# mentions it inserts; a deletion or rescore marks the table stale (an alias may have left with its
# mentions) and maintenance rebuilds it; readers use the mentions table meanwhile.
ALIASES_DDL = """
CREATE TABLE rollup_aliases (target_id VARCHAR NOT NULL, alias VARCHAR NOT NULL);
CREATE TABLE rollup_aliases_state (stale BOOLEAN NOT NULL);
INSERT INTO rollup_aliases_state VALUES (false);
"""
STORED_ALIASES = "SELECT DISTINCT target_id, alias FROM mentions WHERE alias IS NOT NULL"


def notable_order_sql(order: tuple[tuple[str, bool], ...]) -> tuple[str, str]:
    """(ORDER BY list with the ties, the condition of the list's rows) of a NOTABLE order."""
    column, descending = order[0]
    by = ", ".join(f"{c} {'DESC' if d else 'ASC'}" for c, d in (*order, *NOTABLE_TIES))
    return by, f"{column} {'>' if descending else '<'} 0"


def notable_part_sql(facts: str, name: str, per_target: bool, kept: int, per_day: bool) -> str:
    """A NOTABLE list's candidates over a relation of mention facts: per scope ('all', or each
    target) and, ``per_day``, per UTC day, the rows of its first ``kept`` groups in the list's
    order (a group: a post with one sentiment, stance and engagement; dense_rank keeps a group
    whole). Columns: list, scope, [day,] NOTABLE_GROUP_COLUMNS, target_id."""
    by, condition = notable_order_sql(NOTABLE[name])
    scope, partition = ("target_id", ["target_id"]) if per_target else ("'all'", [])
    day, partition = (("CAST(created_at AS DATE) AS day, ", ["CAST(created_at AS DATE)", *partition]) if per_day
                      else ("", partition))
    over = f"PARTITION BY {', '.join(partition)} " if partition else ""
    return (f"SELECT '{name}' AS list, {scope} AS scope, {day}{', '.join(NOTABLE_GROUP_COLUMNS)}, target_id "
            f"FROM {facts} WHERE {condition} QUALIFY dense_rank() OVER ({over}ORDER BY {by}) <= {kept}")


def facts_sql(mentions: str, scores: str, posts: str) -> str:
    """The mention_facts rows of three relations with the columns of mentions, target_scores and
    posts (the joins of view v_mentions). ``mentions`` must hold every mention of its posts (the
    writer writes and replaces a post's mentions together): post_first marks one per post."""
    return f"""
        SELECT m.post_key, m.target_id, p.platform, p.created_at, p.author_handle, ts.sentiment, ts.stance,
               ts.stance_scorer, ts.stance_scorer_version,
               coalesce(p.likes, 0) + coalesce(p.reposts, 0) + coalesce(p.replies, 0) + coalesce(p.quotes, 0)
                   AS engagement,
               m.target_id = min(m.target_id) OVER (PARTITION BY m.post_key) AS post_first,
               {AUTHOR_KEY_SQL.format(platform="p.platform", author="p.author_handle")} AS author_key
        FROM {mentions} m JOIN {posts} p USING (post_key)
        LEFT JOIN {scores} ts ON ts.post_key = m.post_key AND ts.target_id = m.target_id"""


def notable_candidates_sql(facts: str) -> str:
    """rollup_notable's rows of a relation of mention facts (every list, both kinds of scope)."""
    return " UNION ALL ".join(notable_part_sql(facts, name, per_target, NOTABLE_KEPT, per_day=False)
                              for name in NOTABLE for per_target in (False, True))


def author_deltas_sql(facts: str, sign: int = 1) -> str:
    """rollup_authors' rows for a relation of mention facts written (``sign=-1``: deleted)."""
    return (f"SELECT author_key, {int(sign)} * count(*) FILTER (WHERE post_first) AS posts, "
            f"{int(sign)} * coalesce(sum(sentiment), 0) AS sentiment_sum, {int(sign)} * count(sentiment) AS scored, "
            "min(author_handle), max(author_handle), min(platform), max(platform), false AS compacted "
            f"FROM {facts} WHERE author_key IS NOT NULL GROUP BY author_key")


# Compacting or summing rollup_authors rows: one row per author.
_AUTHOR_SUMS = ("sum(posts)::BIGINT AS posts, sum(sentiment_sum) AS sentiment_sum, sum(scored)::BIGINT AS scored, "
                "min(handle_min) AS handle_min, max(handle_max) AS handle_max, min(platform_min) AS platform_min, "
                "max(platform_max) AS platform_max")


CANDIDATE_TABLES = ("rollup_authors", "rollup_notable")


def candidates_sql(facts: str) -> dict[str, str]:
    """Per candidates table (CANDIDATE_TABLES), the rows to append for a relation of mention facts
    just written."""
    return dict(zip(CANDIDATE_TABLES, (author_deltas_sql(facts), notable_candidates_sql(facts)), strict=True))


def remove_facts(con: duckdb.DuckDBPyConnection, keys: str) -> None:
    """Delete the mention facts of the posts in ``keys`` (a relation with post_key), and their
    candidates: the authors' posts as negative deltas, the notable rows counted as removed."""
    posts = f"post_key IN (SELECT post_key FROM {keys})"
    if has_aliases(con):
        con.execute("UPDATE rollup_aliases_state SET stale = true")
    if has_candidates(con):
        leaving = f"(SELECT * FROM mention_facts WHERE {posts})"
        con.execute(f"INSERT INTO rollup_authors {author_deltas_sql(leaving, -1)}")
        con.execute("UPDATE rollup_notable_state SET removed = removed + "
                    f"(SELECT count(DISTINCT post_key) FROM rollup_notable WHERE {posts})")
        con.execute(f"DELETE FROM rollup_notable WHERE {posts}")
    con.execute(f"DELETE FROM mention_facts WHERE {posts}")


def aliases_statement(mentions: str) -> str:
    """The statement adding the aliases of mentions being inserted (a relation of them)."""
    return ("INSERT INTO rollup_aliases SELECT DISTINCT target_id, alias FROM "
            f"{mentions} m WHERE alias IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM rollup_aliases r WHERE r.target_id = m.target_id AND r.alias = m.alias)")


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Is there a (stored, not temporary) table of this name: has a migration made it yet?"""
    return bool(con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ? AND NOT temporary",
                            [name]).fetchall())


def has_aliases(con: duckdb.DuckDBPyConnection) -> bool:
    """Does the database keep rollup_aliases (migrated by this version)?"""
    return _has_table(con, "rollup_aliases_state")


def aliases_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Does rollup_aliases hold exactly the stored mentions' aliases (no deletion since its rebuild)?"""
    if not has_aliases(con):
        return False
    return con.execute("SELECT NOT any_value(stale) FROM rollup_aliases_state").fetchall() == [(True,)]


def rebuild_aliases(con: duckdb.DuckDBPyConnection) -> None:
    if has_aliases(con):
        con.execute(f"DELETE FROM rollup_aliases; INSERT INTO rollup_aliases {STORED_ALIASES}; "
                    "UPDATE rollup_aliases_state SET stale = false")


def has_candidates(con: duckdb.DuckDBPyConnection) -> bool:
    """Does the database keep the summary's candidates (migrated by this version)?"""
    return _has_table(con, "rollup_notable_state")


def rebuild_candidates(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the summary's candidates with those of the stored mention facts."""
    if not has_candidates(con):
        return  # the migrations before the candidates' one
    con.execute("DELETE FROM rollup_authors; DELETE FROM rollup_notable; UPDATE rollup_notable_state SET removed = 0")
    con.execute(f"INSERT INTO rollup_authors SELECT * REPLACE (true AS compacted) "
                f"FROM ({author_deltas_sql('mention_facts')})")
    con.execute(f"INSERT INTO rollup_notable {notable_candidates_sql('mention_facts')}")


def refresh_notable(con: duckdb.DuckDBPyConnection) -> bool:
    """Rebuild the notable candidates from the facts if deletions left them short (after a rescore:
    every rescored post leaves and comes back). Over ten million facts this took a minute, so
    maintenance does not: until then the summary reads the facts where they fall short."""
    if not has_candidates(con) or notable_complete_rows(con) == NOTABLE_KEPT:
        return False
    con.execute("DELETE FROM rollup_notable; UPDATE rollup_notable_state SET removed = 0")
    con.execute(f"INSERT INTO rollup_notable {notable_candidates_sql('mention_facts')}")
    return True


def compact_candidates(con: duckdb.DuckDBPyConnection) -> None:
    """Fold the authors' deltas into one row per author; keep each notable list's first NOTABLE_KEPT
    groups per scope (the first rows that are complete stay as many: refresh_notable)."""
    if not has_candidates(con):
        return
    if con.execute("SELECT 1 FROM rollup_authors WHERE NOT compacted LIMIT 1").fetchone():
        con.execute("CREATE OR REPLACE TEMP TABLE authors_folded AS "
                    f"SELECT author_key, {_AUTHOR_SUMS}, true AS compacted FROM rollup_authors "
                    "WHERE author_key IN (SELECT author_key FROM rollup_authors WHERE NOT compacted) "
                    "GROUP BY author_key HAVING sum(posts) <> 0")
        con.execute("DELETE FROM rollup_authors WHERE author_key IN "
                    "(SELECT author_key FROM rollup_authors WHERE NOT compacted)")
        con.execute("INSERT INTO rollup_authors SELECT * FROM temp.authors_folded; DROP TABLE temp.authors_folded")
    if not con.execute("SELECT 1 FROM rollup_notable GROUP BY list, scope HAVING count(DISTINCT post_key) > ? "
                       "LIMIT 1", [NOTABLE_KEPT]).fetchall():
        return  # no list holds more than it keeps: nothing to rewrite
    kept = " UNION ALL ".join(
        f"SELECT * FROM rollup_notable WHERE list = '{name}' QUALIFY dense_rank() OVER "
        f"(PARTITION BY scope ORDER BY {notable_order_sql(order)[0]}) <= {NOTABLE_KEPT}"
        for name, order in NOTABLE.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE notable_kept AS {kept}")
    con.execute("DELETE FROM rollup_notable; INSERT INTO rollup_notable SELECT * FROM temp.notable_kept; "
                "DROP TABLE temp.notable_kept")


def notable_complete_rows(con: duckdb.DuckDBPyConnection) -> int:
    """How many of a list's first rows (per scope) rollup_notable is sure to hold: groups kept from each
    batch, less one for each post deleted since the candidates were rebuilt (0 without candidates)."""
    if not has_candidates(con):
        return 0
    row = con.execute("SELECT any_value(removed) FROM rollup_notable_state").fetchone()
    return max(NOTABLE_KEPT - int(row[0] if row and row[0] is not None else NOTABLE_KEPT), 0)


def top_authors_sql(con: duckdb.DuckDBPyConnection, limit: int) -> str | None:
    """A relation (author_key, n, mood, handle_min, handle_max, platform_min, platform_max) holding
    every author among the ``limit`` with the most posts over all facts, ties included, with their
    exact posts and mean sentiment (rounded to 3 places): from the compacted rows with as many posts
    as the one in place ``limit`` + (authors with deltas) or more, and the authors with deltas. An
    author left out is compacted, without a delta, below all of those: at least ``limit`` authors
    without a delta lead it. None without candidates, or with more than AUTHOR_DELTAS_MAX authors with
    deltas (the caller groups the facts)."""
    if not has_candidates(con):
        return None
    row = con.execute("SELECT count(DISTINCT author_key) FROM rollup_authors WHERE NOT compacted").fetchone()
    deltas = int(row[0]) if row else 0
    if deltas > AUTHOR_DELTAS_MAX:
        return None
    return f"""(
        SELECT author_key, sum(posts) AS n, round(sum(sentiment_sum) / nullif(sum(scored), 0), 3) AS mood,
               min(handle_min) AS handle_min, max(handle_max) AS handle_max, min(platform_min) AS platform_min,
               max(platform_max) AS platform_max
        FROM rollup_authors
        WHERE author_key IN (
            SELECT author_key FROM rollup_authors WHERE compacted AND posts >= coalesce((
                SELECT posts FROM rollup_authors WHERE compacted ORDER BY posts DESC
                LIMIT 1 OFFSET {int(limit) + deltas - 1}), 0)
            UNION ALL SELECT author_key FROM rollup_authors WHERE NOT compacted)
        GROUP BY author_key HAVING sum(posts) > 0)"""


def add_facts(con: duckdb.DuckDBPyConnection, mentions: str, scores: str, posts: str) -> None:
    con.execute(f"INSERT INTO mention_facts {facts_sql(mentions, scores, posts)}")


# The summary reads the rollups only while this is on (tests and bench/summary_scale.py compare with the rows).
_ENABLED = [True]


def enabled() -> bool:
    return _ENABLED[0]


@contextmanager
def disabled() -> Iterator[None]:
    """Within the block, the summary reads words from the rows only (the rollups are still written)."""
    _ENABLED[0] = False
    try:
        yield
    finally:
        _ENABLED[0] = True


def mention_words_sql(source_sql: str) -> str:
    """One row per (mention, distinct word of its post): post_key, target_id, day, kind, word. The
    regular expressions run once per post, not once per mention."""
    return f"""
        WITH src AS ({source_sql}),
        texts AS (SELECT DISTINCT post_key, CAST(created_at AS DATE) AS day, text FROM src),
        words AS (
            SELECT DISTINCT post_key, day, 'hashtag' AS kind,
                   unnest(regexp_extract_all(lower(text), '{HASHTAG_REGEX}', 1)) AS word FROM texts
            UNION ALL
            SELECT DISTINCT post_key, day, 'term' AS kind,
                   unnest(regexp_extract_all(regexp_replace(lower(text), '{LINKS_AND_HANDLES_REGEX}', ' ', 'g'),
                                             '{TERM_REGEX}')) AS word FROM texts)
        SELECT w.post_key, m.target_id, w.day, w.kind, w.word
        FROM words w JOIN (SELECT DISTINCT post_key, target_id FROM src) m USING (post_key)"""


def batch_words_sql(post_words: str, mentions: str, posts: str) -> str:
    """The rows of ``mention_words_sql`` from words found beforehand (monitor/words.py): a relation
    ``post_words`` (post_key, hashtags, terms: each word once) of posts each stored once."""
    return f"""
        WITH words AS (
            SELECT post_key, 'hashtag' AS kind, unnest(hashtags) AS word FROM {post_words}
            UNION ALL
            SELECT post_key, 'term' AS kind, unnest(terms) AS word FROM {post_words})
        SELECT w.post_key, m.target_id, p.day, w.kind, w.word
        FROM words w JOIN (SELECT DISTINCT post_key, target_id FROM {mentions}) m USING (post_key)
        JOIN (SELECT DISTINCT post_key, CAST(created_at AS DATE) AS day FROM {posts}) p USING (post_key)"""


def counts_sql(mention_words: str, sign: int = 1) -> str:
    """The rows to append to rollup_words for a relation of mention words (``mention_words_sql``)."""
    return (f"SELECT day, target_id, kind, word, {int(sign)} * count(*) AS posts, false AS compacted "
            f"FROM ({mention_words}) GROUP BY day, target_id, kind, word")


def append_sql(mention_words: str, sign: int = 1) -> str:
    """Statements appending the counts of a relation of mention words to both tables."""
    counts = f"SELECT * FROM ({counts_sql(mention_words, sign)})"
    return (f"CREATE OR REPLACE TEMP TABLE rollup_delta AS {counts}; {append_counts_sql('temp.rollup_delta')}; "
            "DROP TABLE temp.rollup_delta")


def append_counts_sql(counts: str, totals: str | None = None) -> str:
    """Statements appending counts made by ``counts_sql`` (a table of them) to both tables; ``totals``:
    a table of their ``totals_sql`` made beforehand."""
    return (f"INSERT INTO rollup_words SELECT * FROM {counts}; INSERT INTO rollup_words_total "
            + (f"SELECT * FROM {totals}" if totals else totals_sql(counts)))


def totals_sql(counts: str) -> str:
    """The rows to append to rollup_words_total for a relation of counts made by ``counts_sql``."""
    return f"SELECT target_id, kind, word, sum(posts)::BIGINT, false FROM {counts} GROUP BY ALL"


def add(con: duckdb.DuckDBPyConnection, source_sql: str, sign: int = 1) -> None:
    """Count the words of a relation of mentions (post_key, target_id, created_at, text) into the
    rollups; ``sign=-1`` takes them out (before the mentions are deleted)."""
    con.execute(append_sql(mention_words_sql(source_sql), sign))


STORED_MENTIONS = ("SELECT m.post_key, m.target_id, p.created_at, p.text "
                   "FROM mentions m JOIN posts p USING (post_key)")
SET_IN_STEP_SQL = "DELETE FROM rollup_state; INSERT INTO rollup_state SELECT count(*) FROM mentions"
# Mentions counted per statement by rebuild: the words of a whole 10M-post database in one statement
# took 20 GB of memory (every post's distinct words at once).
REBUILD_CHUNK = 250_000


FACTS_CHUNK = 2_000_000


def rebuild(con: duckdb.DuckDBPyConnection, source_sql: str = STORED_MENTIONS) -> None:
    """Replace the word rollups with the counts of ``source_sql``, a few days at a time; by default
    the stored mentions, and the facts too: both are then in step with the rows. The migrations that
    created the tables ran this for the database they found."""
    con.execute("DELETE FROM rollup_words; DELETE FROM rollup_words_total")
    for start, end in _day_chunks(con, source_sql, REBUILD_CHUNK):
        chunk = f"SELECT * FROM ({source_sql}) WHERE created_at >= '{start}' AND created_at < '{end}'"
        con.execute(f"INSERT INTO rollup_words {counts_sql(mention_words_sql(chunk))}")
    con.execute("UPDATE rollup_words SET compacted = true")
    con.execute("INSERT INTO rollup_words_total SELECT target_id, kind, word, sum(posts)::BIGINT, true "
                "FROM rollup_words GROUP BY ALL")
    if source_sql == STORED_MENTIONS:
        rebuild_facts(con)
        con.execute(SET_IN_STEP_SQL)


def rebuild_facts(con: duckdb.DuckDBPyConnection) -> None:
    """Replace mention_facts with the facts of the stored rows (a few million mentions at a time)."""
    if not _has_table(con, "mention_facts"):
        return  # the word rollups' migration, before the facts' one
    con.execute("DELETE FROM mention_facts")
    for start, end in _day_chunks(con, STORED_MENTIONS, FACTS_CHUNK):
        add_facts(con, "mentions", "target_scores",
                  f"(SELECT * FROM posts WHERE created_at >= '{start}' AND created_at < '{end}')")
    rebuild_candidates(con)
    rebuild_aliases(con)


def _day_chunks(con: duckdb.DuckDBPyConnection, source_sql: str, chunk: int) -> list[tuple[str, str]]:
    """Runs of whole days [start, end) holding about ``chunk`` mentions each (a busier day alone)."""
    days = con.execute(f"SELECT CAST(created_at AS DATE) AS day, count(*) FROM ({source_sql}) "
                       "GROUP BY day ORDER BY day").fetchall()
    chunks: list[tuple[str, str]] = []
    first, size = None, 0
    for i, (day, n) in enumerate(days):
        first, size = first or day, size + n
        if size >= chunk or i == len(days) - 1:
            chunks.append((first.isoformat(), (day + timedelta(days=1)).isoformat()))
            first, size = None, 0
    return chunks


def in_step(con: duckdb.DuckDBPyConnection) -> bool:
    """Do the rollups count every stored mention (no rows were written past the writer)? False also
    for a database without rollups (not migrated yet)."""
    try:
        row = con.execute("SELECT (SELECT any_value(mentions) FROM rollup_state) = (SELECT count(*) FROM mentions)"
                          ).fetchone()
    except duckdb.CatalogException:
        return False
    return bool(row and row[0])


def compact(con: duckdb.DuckDBPyConnection) -> int:
    """Fold the deltas of each day that received some since its last compaction into one row per
    word (zero counts dropped), and the summary's candidates (compact_candidates). Returns how many
    days were compacted. Call in a transaction."""
    compact_candidates(con)
    if has_aliases(con) and not aliases_current(con):
        rebuild_aliases(con)
    days = [d for (d,) in con.execute("SELECT DISTINCT day FROM rollup_words WHERE NOT compacted").fetchall()]
    if not days:
        return 0
    con.execute("CREATE OR REPLACE TEMP TABLE rollup_compacting AS "
                "SELECT day, target_id, kind, word, sum(posts)::BIGINT AS posts, true AS compacted "
                "FROM rollup_words WHERE day IN (SELECT unnest(?::DATE[])) GROUP BY ALL HAVING sum(posts) <> 0",
                [days])
    con.execute("DELETE FROM rollup_words WHERE day IN (SELECT unnest(?::DATE[]))", [days])
    con.execute("INSERT INTO rollup_words SELECT * FROM rollup_compacting; DROP TABLE temp.rollup_compacting")
    con.execute("CREATE OR REPLACE TEMP TABLE rollup_compacting AS "
                "SELECT target_id, kind, word, sum(posts)::BIGINT AS posts, true AS compacted "
                "FROM rollup_words_total GROUP BY ALL HAVING sum(posts) <> 0")
    con.execute("DELETE FROM rollup_words_total; INSERT INTO rollup_words_total SELECT * FROM rollup_compacting; "
                "DROP TABLE temp.rollup_compacting")
    return len(days)
