//! known_hosts parsing.
