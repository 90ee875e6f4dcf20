//! ~/.ssh/config parsing.
