"""The console: the office's, districts' and units' web pages, a BFF over the other services' HTTP APIs."""
