"""Analysis: which targets a post mentions, its sentiment, and its stance toward each target."""
