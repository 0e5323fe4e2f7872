//! Who is away: the filings of a subtree that cover a day, and the names of their filers.
