"""The static leaderboard site, built from result records (`zoo leaderboard build`)."""
