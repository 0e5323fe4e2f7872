//! Notifications and webhooks as stored: a recipient's notifications, marking them read, and the webhooks of a scope.
