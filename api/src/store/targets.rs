//! What the authorization policy reads of a target: an account's standing, a node's path, a grant's reach.
