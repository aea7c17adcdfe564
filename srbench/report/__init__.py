"""What readers see: the leaderboard (rows -> tables), figures and the static HTML site, all read from the store."""
