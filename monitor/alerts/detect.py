"""Stance shifts: a target's net stance over the last 24 h against the 24 h before.

Net stance is (favor - against) / scored posts (posts with a stance of favor, against or none),
from ``v_mentions``. Every shift of at least ``floor`` with at least ``min_posts`` scored posts on
both sides is returned; the dispatcher then applies each target's own thresholds
(``stance_shift``, ``stance_min_posts``). The event's key holds the day and the direction, so a
daemon that looks every few minutes alerts once per target, day and direction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import duckdb

from monitor.alerts.events import StanceShiftEvent, _clip

STANCE_WINDOW = timedelta(hours=24)
FLOOR_SHIFT = 0.1  # below this no target's threshold could ask for an alert
FLOOR_POSTS = 5


def recent_stance_shifts(con: duckdb.DuckDBPyConnection, now: datetime, window: timedelta = STANCE_WINDOW,
                         floor: float = FLOOR_SHIFT, min_posts: int = FLOOR_POSTS) -> list[StanceShiftEvent]:
    """Shifts of net stance between [now - 2 window, now - window) and [now - window, now); ``now``
    naive UTC. Each with the most engaged post of the last window that took the new direction."""
    rows = con.execute("""
        WITH scored AS (
            SELECT target_id, target_name, stance, url, text, engagement, created_at >= ? AS recent
            FROM v_mentions
            WHERE created_at >= ? AND created_at < ? AND stance IN ('favor', 'against', 'none')
        )
        SELECT target_id, any_value(target_name),
               count(*) FILTER (WHERE recent),
               count(*) FILTER (WHERE recent AND stance = 'favor')
                   - count(*) FILTER (WHERE recent AND stance = 'against'),
               count(*) FILTER (WHERE NOT recent),
               count(*) FILTER (WHERE NOT recent AND stance = 'favor')
                   - count(*) FILTER (WHERE NOT recent AND stance = 'against'),
               arg_max(struct_pack(url, text), engagement) FILTER (WHERE recent AND stance = 'favor'),
               arg_max(struct_pack(url, text), engagement) FILTER (WHERE recent AND stance = 'against')
        FROM scored GROUP BY target_id ORDER BY target_id
    """, [now - window, now - 2 * window, now]).fetchall()
    at = now.replace(minute=0, second=0, microsecond=0)
    return [event for row in rows if (event := _shift(row, at, floor, min_posts)) is not None]


def _shift(row: tuple[Any, ...], at: datetime, floor: float, min_posts: int) -> StanceShiftEvent | None:
    target_id, name, posts, net, before, net_before, top_favor, top_against = row
    if min(posts, before) < min_posts:
        return None
    current, previous = net / posts, net_before / before
    if abs(current - previous) < floor:
        return None
    top = (top_against if current < previous else top_favor) or {}
    return StanceShiftEvent(target_id=target_id, target_name=name or target_id, at=at,
                            previous_net=round(previous, 3), current_net=round(current, 3), posts=posts,
                            previous_posts=before, url=top.get("url"), text=_clip(top.get("text")))
