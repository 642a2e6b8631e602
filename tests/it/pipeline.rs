//! Pipeline engine behaviour seen from outside.
