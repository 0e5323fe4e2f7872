//! The data layer: SQL that more than one route needs, one function or value
//! per question it answers. Route files call it; it never calls a route.

pub mod flags;
