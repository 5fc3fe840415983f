"""The campaign simulator: a seeded plan of what 56 units' systems send, a player, a checker."""
