//! Failed sign-ins as stored: the buckets that count them, shared by every server.
