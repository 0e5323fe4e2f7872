//! The audit chain as stored: entries appended inside transactions, sealed in order, and read back to verify.
