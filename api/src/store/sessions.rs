//! Sign-in as stored: the account a login names, refresh tokens and the sessions they belong to.
