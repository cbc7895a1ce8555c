"""Schema migrations. Each migration is applied once, in order, and recorded in schema_migrations.

Times are UTC, stored as TIMESTAMP (no time zone) so every DuckDB client shows the same values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

import monitor.store.rollups as rollups


def sql_string(value: str | Path) -> str:
    """A value as an SQL string literal, for the statements that take no parameters (ATTACH, COPY ...
    TO, SET): quoted, its quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def key_hash_sql(key: str) -> str:
    """SQL for a post key's 64-bit hash: the first 16 hex digits of its MD5, as UBIGINT. Defined by
    MD5 rather than DuckDB's hash(), which may change between DuckDB versions: a stored hash that no
    longer matches would let a post in twice. Equals int(hashlib.md5(key.encode()).hexdigest()[:16], 16)."""
    return f"('0x' || md5({key})[1:16])::UBIGINT"


def key_hash(key: str) -> int:
    """The stored ``posts.key_hash`` of a post key (equals ``key_hash_sql``)."""
    return int.from_bytes(hashlib.md5(key.encode()).digest()[:8], "big")


# A migration is SQL, or a function of the connection for what SQL alone does badly (filling a table
# in bounded chunks). Either runs in the migration's transaction.
MIGRATIONS: list[tuple[str, str | Callable[[duckdb.DuckDBPyConnection], None]]] = [
    ("initial", """
-- The big tables (posts and their analysis) have no PRIMARY KEY: the writer keeps keys unique
-- itself (it inserts only posts whose key is not stored yet), and DuckDB's key indexes made every
-- batch's insert and checkpoint ~8x slower on a 1M-post database (bench/writer_lock.py).
CREATE TABLE posts (
    post_key       VARCHAR NOT NULL,      -- platform || ':' || post_id, unique
    platform       VARCHAR NOT NULL,
    post_id        VARCHAR NOT NULL,
    url            VARCHAR,
    author_id      VARCHAR,
    author_handle  VARCHAR,
    author_name    VARCHAR,
    text           VARCHAR NOT NULL,
    lang           VARCHAR,               -- as given by the platform
    created_at     TIMESTAMP NOT NULL,    -- UTC
    collected_at   TIMESTAMP NOT NULL,    -- UTC
    reply_to       VARCHAR,
    quote_of       VARCHAR,
    repost_of      VARCHAR,
    likes          BIGINT,
    reposts        BIGINT,
    replies        BIGINT,
    quotes         BIGINT,
    source         VARCHAR NOT NULL,      -- reader or collector name
    source_file    VARCHAR,
    source_line    BIGINT,
    source_request VARCHAR,
    source_query   VARCHAR,
    tool_version   VARCHAR NOT NULL,
    import_id      BIGINT,
    run_id         BIGINT,
    raw            JSON
);
CREATE TABLE targets (
    target_id VARCHAR PRIMARY KEY,
    name      VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL
);
CREATE TABLE mentions (
    post_key      VARCHAR NOT NULL,
    target_id     VARCHAR NOT NULL,
    alias         VARCHAR,                -- configured alias, @handle or #tag that matched (NULL: forced)
    rules_version VARCHAR NOT NULL        -- unique per (post_key, target_id)
);
CREATE TABLE post_sentiment (
    post_key       VARCHAR NOT NULL,      -- unique
    lang           VARCHAR,               -- language used for the decision (platform's or guessed)
    scored         BOOLEAN NOT NULL,      -- false: language not scored
    compound       DOUBLE,                -- per-sentence mean for long texts, else document compound
    compound_doc   DOUBLE,
    label          VARCHAR,               -- positive | neutral | negative
    sentences      INTEGER,
    scorer         VARCHAR NOT NULL,
    scorer_version VARCHAR NOT NULL,
    scored_at      TIMESTAMP NOT NULL
);
CREATE TABLE target_scores (
    post_key                 VARCHAR NOT NULL,
    target_id                VARCHAR NOT NULL,
    sentiment                DOUBLE,      -- from the sentences that mention the target
    sentiment_label          VARCHAR,
    stance                   VARCHAR,     -- favor | against | none
    stance_score             DOUBLE,
    sentiment_scorer         VARCHAR NOT NULL,
    sentiment_scorer_version VARCHAR NOT NULL,
    stance_scorer            VARCHAR,
    stance_scorer_version    VARCHAR,
    scored_at                TIMESTAMP NOT NULL   -- unique per (post_key, target_id)
);
CREATE TABLE imports (
    import_id     BIGINT PRIMARY KEY,
    path          VARCHAR NOT NULL,
    format        VARCHAR,
    fingerprint   VARCHAR,
    rules_version VARCHAR,
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    status        VARCHAR NOT NULL,       -- running | complete | failed | partial
    records       BIGINT,
    posts_new     BIGINT,
    posts_seen    BIGINT,
    unmatched     BIGINT,
    errors        BIGINT,
    message       VARCHAR
);
CREATE TABLE import_errors (
    import_id BIGINT NOT NULL,
    file      VARCHAR NOT NULL,
    line      BIGINT,
    field     VARCHAR,
    reason    VARCHAR NOT NULL,
    logged_at TIMESTAMP NOT NULL
);
CREATE TABLE runs (
    run_id      BIGINT PRIMARY KEY,
    source      VARCHAR NOT NULL,
    query       VARCHAR,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    pages       INTEGER,
    requests    INTEGER,
    posts_new   BIGINT,
    posts_seen  BIGINT,
    statuses    VARCHAR,                  -- e.g. '200x3,429x1'
    error       VARCHAR,
    coverage    VARCHAR                   -- complete | capped | rate-limited | failed
);
CREATE TABLE sightings (
    post_key VARCHAR NOT NULL,
    run_id   BIGINT,
    source   VARCHAR NOT NULL,
    query    VARCHAR,
    seen_at  TIMESTAMP NOT NULL
);
CREATE TABLE source_state (
    source     VARCHAR NOT NULL,
    query      VARCHAR NOT NULL,
    state      JSON NOT NULL,             -- cursor, newest id/time, ETag ...
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, query)
);
CREATE TABLE applied_batches (
    batch_id   VARCHAR PRIMARY KEY,       -- makes replaying a spooled batch idempotent
    applied_at TIMESTAMP NOT NULL
);
"""),
    ("views", """
CREATE OR REPLACE VIEW v_posts AS
SELECT p.post_key, p.platform, p.created_at, p.author_handle, p.author_name, p.text, p.url, p.lang,
       s.compound AS sentiment, s.label AS sentiment_label, s.scored,
       p.likes, p.reposts, p.replies, p.quotes,
       coalesce(p.likes, 0) + coalesce(p.reposts, 0) + coalesce(p.replies, 0) + coalesce(p.quotes, 0) AS engagement,
       p.reply_to, p.quote_of, p.repost_of, p.source, p.collected_at
FROM posts p LEFT JOIN post_sentiment s USING (post_key);

CREATE OR REPLACE VIEW v_mentions AS
SELECT m.target_id, t.name AS target_name, m.alias, p.post_key, p.platform, p.created_at, p.author_handle,
       p.text, p.url, ts.sentiment, ts.sentiment_label, ts.stance, ts.stance_score,
       coalesce(p.likes, 0) + coalesce(p.reposts, 0) + coalesce(p.replies, 0) + coalesce(p.quotes, 0) AS engagement
FROM mentions m
JOIN posts p USING (post_key)
LEFT JOIN targets t USING (target_id)
LEFT JOIN target_scores ts ON ts.post_key = m.post_key AND ts.target_id = m.target_id;

CREATE OR REPLACE VIEW v_daily_target AS
SELECT CAST(date_trunc('day', created_at) AS DATE) AS day, target_id,
       count(*) AS posts,
       round(avg(sentiment), 4) AS mean_sentiment,
       count(*) FILTER (WHERE stance = 'favor') AS favor,
       count(*) FILTER (WHERE stance = 'against') AS against,
       count(*) FILTER (WHERE stance = 'none') AS neutral_stance,
       sum(engagement) AS engagement
FROM v_mentions GROUP BY ALL ORDER BY day, target_id;

CREATE OR REPLACE VIEW v_daily_volume AS
SELECT CAST(date_trunc('day', created_at) AS DATE) AS day, platform, count(*) AS posts
FROM posts GROUP BY ALL ORDER BY day, platform;
"""),
    ("source_health", """
CREATE OR REPLACE VIEW v_source_health AS
SELECT source, count(*) AS runs, max(started_at) AS last_run,
       arg_max(coverage, started_at) AS last_coverage, arg_max(error, started_at) AS last_error,
       sum(posts_new) AS posts_new, count(*) FILTER (WHERE coverage <> 'complete') AS incomplete_runs
FROM runs GROUP BY source ORDER BY source;
"""),
]

MIGRATIONS.append(("deletions", """
CREATE TABLE deletions (
    post_key   VARCHAR NOT NULL,          -- deleted (or edited: deleted, then stored again) at the source
    source     VARCHAR NOT NULL,
    deleted_at TIMESTAMP NOT NULL
);
"""))

MIGRATIONS.append(("daemon", """
CREATE TABLE inbox_files (
    content_hash VARCHAR PRIMARY KEY,     -- sha256 of the file: a file is imported once, whatever its name
    name         VARCHAR NOT NULL,
    size         BIGINT,
    import_id    BIGINT,
    imported_at  TIMESTAMP NOT NULL
);
CREATE TABLE daemon_events (
    event_at TIMESTAMP NOT NULL,
    kind   VARCHAR NOT NULL,              -- start | stop | job-error | job-missed | spike (job: the target)
    job    VARCHAR,
    detail VARCHAR
);
-- Hours in which a source was down, capped or rate-limited: trends can show them as gaps.
CREATE OR REPLACE VIEW v_coverage_gaps AS
SELECT source, CAST(date_trunc('hour', started_at) AS TIMESTAMP) AS hour,
       list(DISTINCT coverage ORDER BY coverage) AS problems, count(*) AS runs, any_value(error) AS example_error
FROM runs WHERE coverage <> 'complete'
GROUP BY ALL ORDER BY hour DESC, source;
"""))

MIGRATIONS.append(("post rules version", """
-- The rule set a post was matched with, also for posts that matched nothing (store_unmatched),
-- so `monitor rescore` knows which posts to match again after the rules change.
ALTER TABLE post_sentiment ADD COLUMN rules_version VARCHAR;
"""))

MIGRATIONS.append(("post key hash", f"""
-- The writer finds which posts of a batch are stored already by scanning this one integer column
-- (8 bytes a post) instead of the VARCHAR keys, and confirms the few matches on post_key (two keys
-- can share a 64-bit hash). The writer computes it for the posts it stores; this fills it in for
-- stored posts. A post stored another way (by hand) may have none: the writer checks those rows'
-- keys too, and maintenance fills them in.
ALTER TABLE posts ADD COLUMN key_hash UBIGINT;
UPDATE posts SET key_hash = {key_hash_sql("post_key")};
"""))

MIGRATIONS.append(("checkpoints", """
-- Maintenance checkpoints: merging the small row groups the writes leave, folding a WAL another
-- writer left. (The writer writes no WAL now; versions that did also logged 'wal' folds here.)
CREATE TABLE checkpoints (
    checkpoint_at TIMESTAMP NOT NULL,
    reason        VARCHAR NOT NULL,       -- maintenance, writes (a row-group merge after writes; older versions: wal)
    wal_bytes     BIGINT NOT NULL,        -- size of the WAL it folded
    vacuum        BOOLEAN NOT NULL        -- row groups merged too
);
"""))

MIGRATIONS.append(("runs without an index", """
-- The writer checkpoints every write, and DuckDB rewrites a table's whole index at each checkpoint
-- (~12 ms for 50,000 runs, and runs grow by thousands a week): runs keeps its key without one. The
-- writer replaces a run's row by deleting and inserting it.
CREATE TABLE runs_unindexed AS SELECT * FROM runs ORDER BY run_id;
ALTER TABLE runs_unindexed ALTER COLUMN run_id SET NOT NULL;
ALTER TABLE runs_unindexed ALTER COLUMN source SET NOT NULL;
ALTER TABLE runs_unindexed ALTER COLUMN started_at SET NOT NULL;
DROP TABLE runs;
ALTER TABLE runs_unindexed RENAME TO runs;
"""))
MIGRATIONS.append(("mentions with their stance scorer", """
-- Which scorer gave each stance (the zero-shot rules or a model trained on the user's labels), so a
-- summary can say what its stance figures rest on.
CREATE OR REPLACE VIEW v_mentions AS
SELECT m.target_id, t.name AS target_name, m.alias, p.post_key, p.platform, p.created_at, p.author_handle,
       p.text, p.url, ts.sentiment, ts.sentiment_label, ts.stance, ts.stance_score,
       coalesce(p.likes, 0) + coalesce(p.reposts, 0) + coalesce(p.replies, 0) + coalesce(p.quotes, 0) AS engagement,
       ts.stance_scorer, ts.stance_scorer_version
FROM mentions m
JOIN posts p USING (post_key)
LEFT JOIN targets t USING (target_id)
LEFT JOIN target_scores ts ON ts.post_key = m.post_key AND ts.target_id = m.target_id;
"""))

MIGRATIONS.append(("voices", """
-- Who says what about whom: each target's own accounts ('x:elonmusk', lower-case), written from the
-- config, and the mentions of other targets in posts by those accounts.
ALTER TABLE targets ADD COLUMN accounts VARCHAR[];
CREATE OR REPLACE VIEW v_voices AS
WITH accounts AS (SELECT target_id AS speaker_id, name AS speaker_name, unnest(accounts) AS account FROM targets)
SELECT a.speaker_id, a.speaker_name, m.target_id, m.target_name, m.post_key, m.platform, m.created_at,
       m.author_handle, m.text, m.url, m.sentiment, m.sentiment_label, m.stance, m.stance_score, m.engagement
FROM v_mentions m
JOIN accounts a ON a.account = lower(m.platform || ':' || m.author_handle)
WHERE m.target_id <> a.speaker_id;
"""))

# One row per alert event and sink (monitor/alerts): the dedup across restarts, the retry queue and
# the record of what each sink answered. IF NOT EXISTS: a dispatcher on a connection of its own
# (tests, `monitor alerts test` on a fresh file) creates it with the same statement.
ALERT_DELIVERIES_DDL = """
CREATE TABLE IF NOT EXISTS alert_deliveries (
    event_key       VARCHAR NOT NULL,   -- the event's own key: spike:<target>:<hour>, voice:<speaker>:<post>
    sink            VARCHAR NOT NULL,   -- the sink's name in [[alerts.sinks]]
    status          VARCHAR NOT NULL,   -- pending | held | retrying | sent | failed
    attempts        INTEGER NOT NULL,
    http_status     INTEGER,            -- the last answer: HTTP status, or the SMTP reply code
    error           VARCHAR,            -- the last failure (secrets removed)
    sent_at         TIMESTAMP,          -- UTC, when the sink accepted it
    created_at      TIMESTAMP NOT NULL, -- UTC, when the event was emitted
    next_attempt_at TIMESTAMP,          -- UTC; pending, held and retrying rows wait until then
    kind            VARCHAR NOT NULL,   -- spike | voice | stance_shift | test
    target_id       VARCHAR,
    event           JSON NOT NULL,      -- the event, to send it after a restart
    PRIMARY KEY (event_key, sink)
)
"""

MIGRATIONS.append(("alert deliveries", ALERT_DELIVERIES_DDL + ";"))

# Words too common to say what a target's posts are about (v_mention_terms leaves them out).
STOPWORDS = (
    "about above after again against all also and any are aren because been before being below between both but "
    "can cannot could did didn does doesn doing don down during each even ever every few for from further get gets "
    "got had has hasn have haven having her here hers herself him himself his how into isn its itself just let like "
    "make many more most much must mustn myself need new nor not now off once one only other our ours ourselves out "
    "over own really said same say says see she should shouldn since some still such than that the their theirs "
    "them themselves then there these they this those through too under until very via was wasn way well were "
    "weren what when where which while who whom why will with won would wouldn yes yet you your yours yourself "
    "yourselves amp rt http https www com"
).split()

MIGRATIONS.append(("read-side views", f"""
-- Documented views for SQL users, the same figures as `monitor summary` (times are UTC).
-- v_mood_daily: per day and target, the mentions, how many have a sentiment score, the mean score
-- and its spread (sample standard deviation), and the stance counts.
CREATE OR REPLACE VIEW v_mood_daily AS
SELECT CAST(date_trunc('day', created_at) AS DATE) AS day, target_id, any_value(target_name) AS target_name,
       count(*) AS posts, count(sentiment) AS scored,
       round(avg(sentiment), 4) AS mean_sentiment, round(stddev_samp(sentiment), 4) AS sentiment_spread,
       count(*) FILTER (WHERE stance = 'favor') AS favor, count(*) FILTER (WHERE stance = 'against') AS against,
       count(*) FILTER (WHERE stance = 'none') AS neither
FROM v_mentions GROUP BY ALL;

-- v_share_of_voice: per day and target, its mentions and its share of all targets' mentions that day.
CREATE OR REPLACE VIEW v_share_of_voice AS
WITH daily AS (
    SELECT CAST(date_trunc('day', created_at) AS DATE) AS day, target_id, any_value(target_name) AS target_name,
           count(*) AS posts
    FROM v_mentions GROUP BY ALL
)
SELECT day, target_id, target_name, posts, sum(posts) OVER (PARTITION BY day) AS all_mentions,
       round(posts / sum(posts) OVER (PARTITION BY day), 4) AS share
FROM daily;

-- v_mention_hashtags: one row per (mention, hashtag in the post's text), hashtags lower-case without '#'.
CREATE OR REPLACE VIEW v_mention_hashtags AS
SELECT DISTINCT target_id, target_name, post_key, platform, created_at, author_handle, hashtag
FROM (SELECT *, unnest(regexp_extract_all(lower(text), '#([\\p{{L}}\\p{{N}}_]*\\p{{L}}[\\p{{L}}\\p{{N}}_]*)', 1))
             AS hashtag FROM v_mentions);

-- v_top_hashtags: per target, each hashtag with the posts that carry it, commonest first.
CREATE OR REPLACE VIEW v_top_hashtags AS
SELECT target_id, any_value(target_name) AS target_name, hashtag, count(DISTINCT post_key) AS posts,
       min(created_at) AS first_seen, max(created_at) AS last_seen
FROM v_mention_hashtags GROUP BY target_id, hashtag ORDER BY target_id, posts DESC, hashtag;

-- v_mention_terms: one row per (mention, word of 3+ letters in the post), lower-case; links, @handles,
-- hashtags, common English words and the words of the target's own name and matched alias left out.
CREATE OR REPLACE VIEW v_mention_terms AS
SELECT DISTINCT target_id, target_name, post_key, platform, created_at, author_handle, term
FROM (SELECT *, unnest(regexp_extract_all(
                    regexp_replace(lower(text), '(https?://|www\\.)\\S+|[@#][\\p{{L}}\\p{{N}}_]+', ' ', 'g'),
                    '\\p{{L}}{{3,}}')) AS term
      FROM v_mentions)
WHERE NOT list_contains({list(STOPWORDS)!r}, term)
  AND NOT list_contains(regexp_split_to_array(lower(coalesce(target_name, '') || ' ' || coalesce(alias, '')),
                                              '[^\\p{{L}}]+'), term);

-- v_top_terms: per target, each term with the posts that use it, commonest first.
CREATE OR REPLACE VIEW v_top_terms AS
SELECT target_id, any_value(target_name) AS target_name, term, count(DISTINCT post_key) AS posts
FROM v_mention_terms GROUP BY target_id, term ORDER BY target_id, posts DESC, term;

-- v_author_targets: per author (platform and handle) and target, the mentions, mood, stance and dates.
CREATE OR REPLACE VIEW v_author_targets AS
SELECT platform, author_handle, target_id, any_value(target_name) AS target_name, count(*) AS posts,
       round(avg(sentiment), 4) AS mean_sentiment,
       count(*) FILTER (WHERE stance = 'favor') AS favor, count(*) FILTER (WHERE stance = 'against') AS against,
       count(*) FILTER (WHERE stance = 'none') AS neither, min(created_at) AS first_post, max(created_at) AS last_post
FROM v_mentions WHERE author_handle IS NOT NULL GROUP BY ALL;

-- v_posts_stored: when each post was stored here: its import's start for an imported file, its
-- collector run's start for a collected post (collected_at of an archive is the archive's own
-- retrieval time, e.g. 2016 for a Pushshift dump).
CREATE OR REPLACE VIEW v_posts_stored AS
SELECT p.post_key, p.platform, p.source, p.created_at, p.collected_at, p.import_id, p.run_id,
       coalesce(i.started_at, r.started_at, p.collected_at) AS stored_at
FROM posts p
LEFT JOIN imports i ON i.import_id = p.import_id
LEFT JOIN runs r ON r.run_id = p.run_id;
"""))

MIGRATIONS.append(("import options", """
-- The reader options a file was read with (its format, --map, --platform, --encoding) as JSON: a file
-- counts as imported only when it was read through with the same options and gave a post.
ALTER TABLE imports ADD COLUMN options VARCHAR;
"""))

MIGRATIONS.append(("terms view by anti-join", f"""
-- v_mention_terms again, twice as fast (hash anti-joins instead of a list test per word): one row per
-- occurrence of a word of 3+ letters in a mention's post, lower-case; links, @handles, hashtags, common
-- English words (STOPWORDS) and the words of the target's name and of its aliases left out.
CREATE OR REPLACE VIEW v_mention_terms AS
WITH stopwords(term) AS (VALUES {", ".join(f"('{word}')" for word in STOPWORDS)}),
own_names AS (SELECT target_id, name AS words FROM targets
              UNION SELECT DISTINCT target_id, alias FROM mentions WHERE alias IS NOT NULL),
own_words AS (SELECT DISTINCT target_id, unnest(regexp_split_to_array(lower(words), '[^\\p{{L}}]+')) AS term
              FROM own_names),
words AS (SELECT target_id, target_name, post_key, platform, created_at, author_handle,
                 unnest(regexp_extract_all(
                     regexp_replace(lower(text), '(https?://|www\\.)\\S+|[@#][\\p{{L}}\\p{{N}}_]+', ' ', 'g'),
                     '\\p{{L}}{{3,}}')) AS term
          FROM v_mentions)
SELECT * FROM words w
WHERE NOT EXISTS (SELECT 1 FROM stopwords s WHERE s.term = w.term)
  AND NOT EXISTS (SELECT 1 FROM own_words o WHERE o.target_id = w.target_id AND o.term = w.term);
"""))

def _word_rollups(con: duckdb.DuckDBPyConnection) -> None:
    """Per UTC day, target and word, the posts that use it (store/rollups.py): the summary's top
    hashtags and terms sum whole days from there instead of running regular expressions over every
    mention. Filled here from the stored mentions (a few days of posts at a time: memory stays
    bounded); the writer keeps it in step in the same transaction as the rows."""
    con.execute(rollups.DDL)
    con.execute(rollups.TOTALS_DDL)  # (the "word totals" migration below completes older databases)
    rollups.rebuild(con)


MIGRATIONS.append(("word rollups", _word_rollups))


def _mention_facts(con: duckdb.DuckDBPyConnection) -> None:
    """One row per mention with what the summary reads (store/rollups.py): a summary reads one table
    instead of joining mentions, posts and target_scores on their text keys. Filled here from the
    stored rows; the writer keeps it in step in the same transaction as the rows."""
    con.execute(rollups.FACTS_DDL)
    rollups.rebuild_facts(con)


MIGRATIONS.append(("mention facts", _mention_facts))


def _word_totals(con: duckdb.DuckDBPyConnection) -> None:
    """The word counts over all days (store/rollups.py), for windows over the whole history. Also
    completes rollups made by development versions of the two migrations above (no rollup_state, no
    mention_facts.post_first): those are rebuilt."""
    con.execute(rollups.TOTALS_DDL)
    complete = con.execute(
        "SELECT (SELECT count(*) FROM duckdb_tables() WHERE table_name = 'rollup_state' AND NOT temporary) "
        "+ (SELECT count(*) FROM duckdb_columns() WHERE table_name = 'mention_facts' AND column_name = 'post_first')"
    ).fetchone()
    if complete and complete[0] == 2:
        con.execute("DELETE FROM rollup_words_total; INSERT INTO rollup_words_total "
                    "SELECT target_id, kind, word, sum(posts)::BIGINT, true FROM rollup_words GROUP BY ALL")
        return
    con.execute("CREATE TABLE IF NOT EXISTS rollup_state (mentions BIGINT NOT NULL)")
    con.execute("DROP TABLE mention_facts")
    con.execute(rollups.FACTS_DDL)
    rollups.rebuild(con)


MIGRATIONS.append(("word totals", _word_totals))
MIGRATIONS.append(("author keys", "ALTER TABLE mention_facts ADD COLUMN IF NOT EXISTS author_key UBIGINT; "
                   "UPDATE mention_facts SET author_key = "
                   f"{rollups.AUTHOR_KEY_SQL.format(platform='platform', author='author_handle')} "
                   "WHERE author_key IS NULL AND author_handle IS NOT NULL;"))


def _summary_candidates(con: duckdb.DuckDBPyConnection) -> None:
    """The summary's candidates for a window over every stored post (store/rollups.py): posts per
    author and the first groups of each notable list, filled here from the mention facts."""
    con.execute(rollups.CANDIDATES_DDL)
    rollups.rebuild_candidates(con)


MIGRATIONS.append(("summary candidates", _summary_candidates))


def _summary_aliases(con: duckdb.DuckDBPyConnection) -> None:
    """The aliases the stored mentions matched, each once (store/rollups.py rollup_aliases)."""
    con.execute(rollups.ALIASES_DDL)
    rollups.rebuild_aliases(con)


MIGRATIONS.append(("summary aliases", _summary_aliases))
# The deletions of posts never stored, which the Bluesky firehose reported by the hundred thousand a day
# (the writer keeps only those of stored posts now): a deleted post that was collected has sightings.
MIGRATIONS.append(("deletions of stored posts", """
DELETE FROM deletions WHERE source <> 'monitor delete'
  AND post_key NOT IN (SELECT post_key FROM sightings) AND post_key NOT IN (SELECT post_key FROM posts)
"""))

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply pending migrations; returns how many were applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
    )
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    current = int(row[0]) if row else 0
    applied = 0
    for version, (name, sql) in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        con.execute("BEGIN")
        try:
            if callable(sql):
                sql(con)
            else:
                con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        [version, name, datetime.now(UTC).replace(tzinfo=None)])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied += 1
    return applied
