//! The outbox as stored: notifications and webhook events written inside transactions, and their delivery.
