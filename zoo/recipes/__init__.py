"""Training recipes shipped with zoo, one TOML file per leaderboard entry."""
